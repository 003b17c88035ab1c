/**
 * Commission views shared by the partner area and the back office's partner screen: a period picker (UTC), the
 * volume and commission chart with its table, the statement's tables, and the lines with the arithmetic of each, so
 * that every amount can be recomputed by hand (and is, in the browser: a line whose figures do not give its amount
 * is flagged).
 */
import { BarChart } from '@mantine/charts';
import {
  Badge,
  Button,
  Group,
  NativeSelect,
  Paper,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager } from '../../ui/components.tsx';
import { currencyDigits, formatMoney } from '../../ui/money.ts';
import { useApi } from '../../ui/useApi.ts';
import { lineBase, lineChecks } from './line-math.ts';
import {
  bucketLabel,
  bucketStarts,
  dayOf,
  lastDayOf,
  monthFrom,
  monthPeriod,
  type Period,
  rangePeriod,
} from './period.ts';
import type { Bucket, Line, LinesPage, Statement } from './types.ts';

// --- period -------------------------------------------------------------------------------------------------------

type Preset = 'this_month' | 'last_month' | 'last_3_months' | 'last_12_months' | 'custom';

const presetLabels: Record<Preset, string> = {
  this_month: 'This month',
  last_month: 'Last month',
  last_3_months: 'Last 3 months',
  last_12_months: 'Last 12 months',
  custom: 'Dates…',
};

export function presetPeriod(preset: Exclude<Preset, 'custom'>, now = new Date()): Period {
  switch (preset) {
    case 'this_month':
      return monthPeriod(monthFrom(now, 0));
    case 'last_month':
      return monthPeriod(monthFrom(now, -1));
    case 'last_3_months':
      return { from: monthPeriod(monthFrom(now, -2)).from, to: monthPeriod(monthFrom(now, 0)).to };
    case 'last_12_months':
      return { from: monthPeriod(monthFrom(now, -11)).from, to: monthPeriod(monthFrom(now, 0)).to };
  }
}

function presetOf(period: Period): Preset {
  for (const p of ['this_month', 'last_month', 'last_3_months', 'last_12_months'] as const) {
    const candidate = presetPeriod(p);
    if (candidate.from === period.from && candidate.to === period.to) return p;
  }
  return 'custom';
}

/** A preset (this month, last month…) or two dates, both inclusive, in UTC. */
export function PeriodPicker({ value, onChange }: { value: Period; onChange: (period: Period) => void }) {
  const [preset, setPreset] = useState<Preset>(() => presetOf(value));
  const [from, setFrom] = useState(dayOf(value.from));
  const [to, setTo] = useState(lastDayOf(value));
  const [error, setError] = useState<string>();

  function choose(next: Preset) {
    setPreset(next);
    setError(undefined);
    if (next !== 'custom') {
      const period = presetPeriod(next);
      setFrom(dayOf(period.from));
      setTo(lastDayOf(period));
      onChange(period);
    }
  }
  function apply(event: FormEvent) {
    event.preventDefault();
    const period = rangePeriod(from, to);
    if ('error' in period) setError(period.error);
    else {
      setError(undefined);
      onChange(period);
    }
  }

  return (
    <form onSubmit={apply}>
      <Group align="flex-end" gap="sm" wrap="wrap">
        <NativeSelect
          label="Period (UTC)"
          value={preset}
          onChange={(e) => choose(e.currentTarget.value as Preset)}
          data={Object.entries(presetLabels).map(([value, label]) => ({ value, label }))}
        />
        {preset === 'custom' ? (
          <>
            <TextInput
              label="From"
              type="date"
              value={from}
              onChange={(e) => setFrom(e.currentTarget.value)}
              required
            />
            <TextInput
              label="To (inclusive)"
              type="date"
              value={to}
              onChange={(e) => setTo(e.currentTarget.value)}
              error={error}
              required
            />
            <Button type="submit" variant="light">
              Show
            </Button>
          </>
        ) : null}
      </Group>
    </form>
  );
}

// --- chart --------------------------------------------------------------------------------------------------------

/** Minor units → major units, for chart axes only (totals are always shown from the integer minor units). */
function major(minor: number, currency: string): number {
  return minor / 10 ** currencyDigits(currency);
}

const lotsText = (lots: number) => lots.toLocaleString('en-GB', { maximumFractionDigits: 4 });

export interface CommissionTotals {
  currency: string;
  amountMinor: number;
  lines: number;
  directLots: number;
  subIbLots: number;
}

export function totalsOf(buckets: Bucket[]): CommissionTotals[] {
  const map = new Map<string, CommissionTotals>();
  for (const b of buckets) {
    const t = map.get(b.currency) ?? { currency: b.currency, amountMinor: 0, lines: 0, directLots: 0, subIbLots: 0 };
    t.amountMinor += b.amountMinor;
    t.lines += b.lines;
    t.directLots += b.directVolumeLots;
    t.subIbLots += b.subIbVolumeLots;
    map.set(b.currency, t);
  }
  return [...map.values()].sort((a, b) => a.currency.localeCompare(b.currency));
}

/** Volume and commission over a period, per day or month: totals, charts, and the same figures as a table. */
export function CommissionChart({
  path,
  period,
  size,
  onSizeChange,
}: {
  /** The chart route (partner area or back office). */
  path: string;
  period: Period;
  size: 'day' | 'month';
  onSizeChange: (size: 'day' | 'month') => void;
}) {
  const { data, error, loading, reload } = useApi<{ buckets: Bucket[] }>(path, { ...period, bucket: size });
  const buckets = data?.buckets ?? [];
  const totals = totalsOf(buckets);
  const starts = bucketStarts(period, size);

  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="wrap">
        <Title order={3}>Volume and commission</Title>
        <SegmentedControl
          aria-label="Chart by"
          size="xs"
          value={size}
          onChange={(v) => onSizeChange(v as 'day' | 'month')}
          data={[
            { value: 'day', label: 'By day' },
            { value: 'month', label: 'By month' },
          ]}
        />
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm">
            {totals.length === 0 ? (
              <Paper withBorder p="sm">
                <Text size="xs" c="dimmed">
                  Commission
                </Text>
                <Text fw={700} size="lg" data-testid="commission-total-none">
                  Nothing in this period
                </Text>
              </Paper>
            ) : (
              totals.map((t) => (
                <Paper withBorder p="sm" key={t.currency}>
                  <Text size="xs" c="dimmed">
                    Commission ({t.currency})
                  </Text>
                  <Text fw={700} size="lg" data-testid={`commission-total-${t.currency}`}>
                    <Money minor={t.amountMinor} currency={t.currency} />
                  </Text>
                  <Text size="xs" c="dimmed">
                    {t.lines} {t.lines === 1 ? 'line' : 'lines'}
                  </Text>
                </Paper>
              ))
            )}
            <Paper withBorder p="sm">
              <Text size="xs" c="dimmed">
                Volume of your clients
              </Text>
              <Text fw={700} size="lg" data-testid="volume-direct">
                {lotsText(totals.reduce((n, t) => n + t.directLots, 0))} lots
              </Text>
            </Paper>
            <Paper withBorder p="sm">
              <Text size="xs" c="dimmed">
                Volume of sub-IBs' clients
              </Text>
              <Text fw={700} size="lg" data-testid="volume-sub-ib">
                {lotsText(totals.reduce((n, t) => n + t.subIbLots, 0))} lots
              </Text>
            </Paper>
          </SimpleGrid>
          {totals.map((t) => {
            const rows = starts.map((start) => {
              const b = buckets.find((x) => x.currency === t.currency && new Date(x.start).toISOString() === start);
              return {
                label: bucketLabel(start, size),
                commission: major(b?.amountMinor ?? 0, t.currency),
                direct: b?.directVolumeLots ?? 0,
                subIb: b?.subIbVolumeLots ?? 0,
              };
            });
            return (
              <SimpleGrid cols={{ base: 1, md: 2 }} key={t.currency} spacing="md">
                <Paper withBorder p="sm">
                  <Text size="sm" fw={600} mb="xs" id={`chart-commission-${t.currency}`}>
                    Commission, {t.currency}
                  </Text>
                  <BarChart
                    h={220}
                    data={rows}
                    dataKey="label"
                    series={[{ name: 'commission', label: `Commission (${t.currency})`, color: 'indigo.6' }]}
                    valueFormatter={(v) => v.toLocaleString('en-GB', { maximumFractionDigits: 2 })}
                    aria-labelledby={`chart-commission-${t.currency}`}
                    role="img"
                    data-testid={`chart-commission-${t.currency}`}
                  />
                </Paper>
                <Paper withBorder p="sm">
                  <Text size="sm" fw={600} mb="xs" id={`chart-volume-${t.currency}`}>
                    Volume, lots
                  </Text>
                  <BarChart
                    h={220}
                    data={rows}
                    dataKey="label"
                    type="stacked"
                    withLegend
                    series={[
                      { name: 'direct', label: 'Your clients', color: 'teal.6' },
                      { name: 'subIb', label: "Sub-IBs' clients", color: 'orange.5' },
                    ]}
                    aria-labelledby={`chart-volume-${t.currency}`}
                    role="img"
                  />
                </Paper>
              </SimpleGrid>
            );
          })}
          {buckets.length > 0 ? (
            <Table.ScrollContainer minWidth={520}>
              <Table striped withTableBorder aria-label="Volume and commission by period" data-testid="buckets-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{size === 'day' ? 'Day' : 'Month'}</Table.Th>
                    <Table.Th ta="right">Your clients, lots</Table.Th>
                    <Table.Th ta="right">Sub-IBs, lots</Table.Th>
                    <Table.Th ta="right">Lines</Table.Th>
                    <Table.Th ta="right">Commission</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {buckets.map((b) => (
                    <Table.Tr key={`${b.start}|${b.currency}`}>
                      <Table.Td>{bucketLabel(new Date(b.start).toISOString(), size)}</Table.Td>
                      <Table.Td ta="right">{lotsText(b.directVolumeLots)}</Table.Td>
                      <Table.Td ta="right">{lotsText(b.subIbVolumeLots)}</Table.Td>
                      <Table.Td ta="right">{b.lines}</Table.Td>
                      <Table.Td ta="right">
                        <Money minor={b.amountMinor} currency={b.currency} />
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          ) : (
            <Empty>No commission in this period.</Empty>
          )}
        </>
      ) : null}
    </Stack>
  );
}

// --- statement ----------------------------------------------------------------------------------------------------

const levelName = (level: number) => (level === 0 ? 'Own clients' : `Sub-IB level ${level}`);

export function StatementTables({ statement }: { statement: Statement }) {
  return (
    <Stack gap="md">
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm">
        {statement.totals.length === 0 ? (
          <Paper withBorder p="sm">
            <Text size="xs" c="dimmed">
              Total
            </Text>
            <Text fw={700}>Nothing in this period</Text>
          </Paper>
        ) : (
          statement.totals.map((t) => (
            <Paper withBorder p="sm" key={t.currency}>
              <Text size="xs" c="dimmed">
                Total ({t.currency})
              </Text>
              <Text fw={700} size="lg" data-testid={`statement-total-${t.currency}`}>
                <Money minor={t.amountMinor} currency={t.currency} />
              </Text>
              <Text size="xs" c="dimmed">
                {t.lines} lines{t.reversals ? `, ${t.reversals} reversals` : ''}
              </Text>
            </Paper>
          ))
        )}
        <Paper withBorder p="sm">
          <Text size="xs" c="dimmed">
            Volume of your clients
          </Text>
          <Text fw={700} size="lg">
            {lotsText(statement.volumeLots.direct)} lots
          </Text>
        </Paper>
        <Paper withBorder p="sm">
          <Text size="xs" c="dimmed">
            Volume of sub-IBs' clients
          </Text>
          <Text fw={700} size="lg">
            {lotsText(statement.volumeLots.subIb)} lots
          </Text>
        </Paper>
      </SimpleGrid>

      {statement.bySymbolGroup.length > 0 ? (
        <>
          <Title order={4}>By level and symbol group</Title>
          <Table.ScrollContainer minWidth={520}>
            <Table withTableBorder striped aria-label="Commission by level and symbol group">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Level</Table.Th>
                  <Table.Th>Symbol group</Table.Th>
                  <Table.Th ta="right">Lots</Table.Th>
                  <Table.Th ta="right">Lines</Table.Th>
                  <Table.Th ta="right">Amount</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {statement.bySymbolGroup.map((g) => (
                  <Table.Tr key={`${g.level}|${g.symbolGroup}|${g.currency}`}>
                    <Table.Td>{levelName(g.level)}</Table.Td>
                    <Table.Td>{g.symbolGroup}</Table.Td>
                    <Table.Td ta="right">{lotsText(g.volumeLots)}</Table.Td>
                    <Table.Td ta="right">
                      {g.lines}
                      {g.reversals ? ` (−${g.reversals})` : ''}
                    </Table.Td>
                    <Table.Td ta="right">
                      <Money minor={g.amountMinor} currency={g.currency} />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Title order={4}>By plan version</Title>
          <Table.ScrollContainer minWidth={420}>
            <Table withTableBorder striped aria-label="Commission by plan version">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Plan</Table.Th>
                  <Table.Th>Version</Table.Th>
                  <Table.Th ta="right">Lines</Table.Th>
                  <Table.Th ta="right">Amount</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {statement.byPlanVersion.map((v) => (
                  <Table.Tr key={`${v.planVersionId}|${v.currency}`}>
                    <Table.Td>{v.planCode ?? '—'}</Table.Td>
                    <Table.Td>{v.version ?? '—'}</Table.Td>
                    <Table.Td ta="right">{v.lines}</Table.Td>
                    <Table.Td ta="right">
                      <Money minor={v.amountMinor} currency={v.currency} />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </>
      ) : null}
    </Stack>
  );
}

// --- lines --------------------------------------------------------------------------------------------------------

/** A decimal in minor units shown in major units: "650" USD → "6.5". */
export function minorDecimalToMajor(value: string, currency: string): string {
  const digits = currencyDigits(currency);
  const negative = value.startsWith('-');
  const [whole = '0', fraction = ''] = value.replace('-', '').split('.');
  const all = (whole + fraction).replace(/^0+(?=\d)/, '');
  const scale = fraction.length + digits;
  const padded = all.padStart(scale + 1, '0');
  let text = scale === 0 ? padded : `${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
  if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  return `${negative ? '−' : ''}${text}`;
}

/** How the line's amount is made, in words and figures. */
export function lineFormula(line: Line): string {
  const parts: string[] = [];
  const lots = lotsText(Math.abs(line.volumeLots));
  if (line.perLotRate !== null && line.perLotRate !== '0') {
    parts.push(`${lots} lots × ${minorDecimalToMajor(line.perLotRate, line.currency)} ${line.currency}/lot`);
  }
  const { base, percent } = lineBase(line);
  if (percent !== null && base !== null) {
    const of = line.level === 0 ? 'revenue' : 'direct line';
    parts.push(`${percent}% of ${formatMoney(Math.abs(base), line.currency)} ${of}`);
  }
  if (parts.length === 0) return 'no rate applies';
  return `${line.kind === 'reversal' ? '− (' : ''}${parts.join(' + ')}${line.kind === 'reversal' ? ')' : ''}`;
}

export function LinesTable({ lines, compact }: { lines: Line[]; compact?: boolean }) {
  return (
    <Table.ScrollContainer minWidth={compact ? 640 : 900}>
      <Table striped withTableBorder aria-label="Commission lines" data-testid="lines-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Closed</Table.Th>
            <Table.Th>Trade</Table.Th>
            <Table.Th>Symbol</Table.Th>
            <Table.Th>Level</Table.Th>
            <Table.Th>How it is computed</Table.Th>
            <Table.Th ta="right">Amount</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {lines.map((l) => {
            const checks = lineChecks(l);
            return (
              <Table.Tr key={l.id}>
                <Table.Td>
                  <DateTime value={l.tradeTime} />
                </Table.Td>
                <Table.Td>
                  <Text size="sm">
                    #{l.ticket}
                    {l.kind === 'reversal' ? (
                      <Badge ml={6} size="xs" color="orange" variant="light">
                        reversal
                      </Badge>
                    ) : null}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {l.serverCode} · {l.login}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{l.symbol}</Text>
                  <Text size="xs" c="dimmed">
                    {l.symbolGroup}
                    {l.planVersion !== null ? ` · plan v${l.planVersion}` : ''}
                  </Text>
                </Table.Td>
                <Table.Td>{levelName(l.level)}</Table.Td>
                <Table.Td>
                  <Text size="sm">{lineFormula(l)}</Text>
                </Table.Td>
                <Table.Td ta="right">
                  <Group gap={4} justify="flex-end" wrap="nowrap">
                    <Money minor={l.amountMinor} currency={l.currency} />
                    <Tooltip
                      label={
                        checks
                          ? 'Recomputed from the figures on this line: equal'
                          : 'The figures on this line do not give this amount'
                      }
                    >
                      <Text
                        span
                        role="img"
                        c={checks ? 'teal' : 'red'}
                        aria-label={checks ? 'recomputed: equal' : 'recomputed: differs'}
                      >
                        {checks ? '✓' : '✗'}
                      </Text>
                    </Tooltip>
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** The lines of a period, a page at a time. */
export function LinesPanel({ path, period, pageSize = 25 }: { path: string; period: Period; pageSize?: number }) {
  const [page, setPage] = useState(0);
  const key = `${period.from}|${period.to}`;
  const [shownKey, setShownKey] = useState(key);
  if (shownKey !== key) {
    setShownKey(key);
    setPage(0);
  }
  const { data, error, loading, reload } = useApi<LinesPage>(path, {
    ...period,
    limit: pageSize,
    offset: page * pageSize,
  });
  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Title order={3}>Lines</Title>
        {data ? (
          <Text size="sm" c="dimmed">
            {data.total} in this period
          </Text>
        ) : null}
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No lines in this period.</Empty> : null}
      {data && data.items.length > 0 ? <LinesTable lines={data.items} /> : null}
      <Pager page={page} hasNext={data?.next !== null && data?.next !== undefined} onChange={setPage} />
    </Stack>
  );
}

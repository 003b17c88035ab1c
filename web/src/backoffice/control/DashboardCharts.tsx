/**
 * The dashboard's charts, each with its figures as a table behind a disclosure (screen readers and exact values),
 * from `GET /api/backoffice/dashboard`. A section the staff member may not read is not drawn at all.
 */
import { BarChart } from '@mantine/charts';
import { Badge, Group, Paper, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { DateTime, Empty, Money } from '../../ui/components.tsx';
import { formatMoney } from '../../ui/money.ts';
import { duration, sentence, To, words } from '../common.tsx';
import type { Dashboard } from './types.ts';

const palette = ['indigo.6', 'teal.6', 'orange.5', 'grape.6', 'cyan.6', 'pink.6', 'lime.7', 'red.6'];
const colorOf = (i: number) => palette[i % palette.length]!;

/** "2026-11-24" → "24 Nov" (the day as the API named it, never shifted by the browser's zone). */
const dayLabel = (day: string) =>
  new Date(`${day}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

function ChartCard({
  id,
  title,
  summary,
  children,
  table,
  action,
}: {
  id: string;
  title: string;
  summary: string;
  children: ReactNode;
  table: ReactNode;
  action?: ReactNode;
}) {
  return (
    <Paper withBorder p="sm" component="section" aria-labelledby={`${id}-title`} data-testid={`card-${id}`}>
      <Group justify="space-between" mb={4} wrap="nowrap">
        <Text fw={600} size="sm" id={`${id}-title`}>
          {title}
        </Text>
        {action}
      </Group>
      <Text size="xs" c="dimmed" mb="xs" id={`${id}-summary`}>
        {summary}
      </Text>
      {children}
      <details>
        <summary style={{ cursor: 'pointer', fontSize: 'var(--mantine-font-size-xs)' }}>Figures as a table</summary>
        <Table.ScrollContainer minWidth={320}>{table}</Table.ScrollContainer>
      </details>
    </Paper>
  );
}

function SimpleTable({ head, rows, label }: { head: string[]; rows: ReactNode[][]; label: string }) {
  return (
    <Table striped withTableBorder aria-label={label} fz="xs">
      <Table.Thead>
        <Table.Tr>
          {head.map((h, i) => (
            <Table.Th key={h} ta={i === 0 ? undefined : 'right'}>
              {h}
            </Table.Th>
          ))}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((r, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional figures with no identity of their own
          <Table.Tr key={i}>
            {r.map((cell, j) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
              <Table.Td key={j} ta={j === 0 ? undefined : 'right'}>
                {cell}
              </Table.Td>
            ))}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function DepositCharts({ deposits }: { deposits: NonNullable<Dashboard['deposits']> }) {
  const { days, currencies, rows } = deposits;
  const cell = (day: string, currency: string) => rows.find((r) => r.day === day && r.currency === currency);
  const counts = days.map((day) => ({
    day: dayLabel(day),
    ...Object.fromEntries(currencies.map((c) => [c, cell(day, c)?.count ?? 0])),
  }));
  const total = rows.reduce((n, r) => n + r.count, 0);
  const posted = rows.reduce((n, r) => n + r.postedCount, 0);
  return (
    <>
      <ChartCard
        id="deposits-count"
        title={`Deposits started per day, last ${days.length} days`}
        summary={`${total} deposit${total === 1 ? '' : 's'} started, ${posted} credited${currencies.length ? ` (${currencies.join(', ')})` : ''}.`}
        table={
          <SimpleTable
            label="Deposits started per day"
            head={['Day', ...currencies.flatMap((c) => [`${c} started`, `${c} credited`])]}
            rows={days.map((day) => [
              dayLabel(day),
              ...currencies.flatMap((c) => [cell(day, c)?.count ?? 0, cell(day, c)?.postedCount ?? 0]),
            ])}
          />
        }
      >
        {total === 0 ? (
          <Empty>No deposits in these days.</Empty>
        ) : (
          <BarChart
            h={220}
            data={counts}
            dataKey="day"
            type="stacked"
            withLegend={currencies.length > 1}
            series={currencies.map((c, i) => ({ name: c, color: colorOf(i) }))}
            yAxisProps={{ allowDecimals: false }}
            role="img"
            aria-labelledby="deposits-count-title"
            aria-describedby="deposits-count-summary"
            data-testid="chart-deposits-count"
          />
        )}
      </ChartCard>
      {currencies.map((currency, i) => {
        const data = days.map((day) => ({ day: dayLabel(day), credited: cell(day, currency)?.postedMinor ?? 0 }));
        const sum = rows.filter((r) => r.currency === currency).reduce((n, r) => n + r.postedMinor, 0);
        const id = `deposits-amount-${currency}`;
        return (
          <ChartCard
            key={currency}
            id={id}
            title={`Deposits credited per day, ${currency}`}
            summary={`${formatMoney(sum, currency)} credited in ${days.length} days.`}
            table={
              <SimpleTable
                label={`Deposits credited per day, ${currency}`}
                head={['Day', 'Credited', 'Started (all statuses)']}
                rows={days.map((day) => [
                  dayLabel(day),
                  <Money key="c" minor={cell(day, currency)?.postedMinor ?? 0} currency={currency} />,
                  <Money key="s" minor={cell(day, currency)?.amountMinor ?? 0} currency={currency} />,
                ])}
              />
            }
          >
            <BarChart
              h={220}
              data={data}
              dataKey="day"
              series={[{ name: 'credited', label: `Credited (${currency})`, color: colorOf(i) }]}
              // Minor units plotted as they are; shown as money on the axis and in the tooltip.
              valueFormatter={(v) => formatMoney(Math.round(v), currency)}
              yAxisProps={{ width: 110 }}
              role="img"
              aria-labelledby={`${id}-title`}
              aria-describedby={`${id}-summary`}
              data-testid={`chart-${id}`}
            />
          </ChartCard>
        );
      })}
    </>
  );
}

const attention = new Set(['needs_review', 'unknown', 'failed']);

export function OperationsChart({ operations }: { operations: NonNullable<Dashboard['operations']> }) {
  const statuses = [...new Set(operations.byStatus.map((r) => r.status))];
  const kinds = [...new Set(operations.byStatus.map((r) => r.kind))].sort();
  const count = (status: string, kind: string) =>
    operations.byStatus.find((r) => r.status === status && r.kind === kind)?.count ?? 0;
  const data = statuses.map((s) => ({
    status: words(s),
    ...Object.fromEntries(kinds.map((k) => [k, count(s, k)])),
  }));
  const totals = statuses.map((s) => [s, kinds.reduce((n, k) => n + count(s, k), 0)] as const);
  const needing = totals.filter(([s]) => attention.has(s)).reduce((n, [, c]) => n + c, 0);
  return (
    <ChartCard
      id="operations"
      title="Operations by status"
      summary={`${totals.reduce((n, [, c]) => n + c, 0)} operations; ${needing} need attention (needs review, unknown or failed).`}
      action={<To to="/backoffice/operations?status=needs_review">Needs review</To>}
      table={
        <SimpleTable
          label="Operations by status and kind"
          head={['Status', ...kinds.map(words), 'Total']}
          rows={totals.map(([s, n]) => [sentence(s), ...kinds.map((k) => count(s, k)), n])}
        />
      }
    >
      {data.length === 0 ? (
        <Empty>No operations yet.</Empty>
      ) : (
        <BarChart
          h={240}
          data={data}
          dataKey="status"
          maxBarWidth={64}
          type="stacked"
          withLegend
          series={kinds.map((k, i) => ({ name: k, label: words(k), color: colorOf(i) }))}
          yAxisProps={{ allowDecimals: false }}
          role="img"
          aria-labelledby="operations-title"
          aria-describedby="operations-summary"
          data-testid="chart-operations"
        />
      )}
    </ChartCard>
  );
}

export function BreaksChart({ breaks }: { breaks: NonNullable<Dashboard['breaks']> }) {
  const total = breaks.openByClass.reduce((n, r) => n + r.count, 0);
  const run = breaks.lastRun;
  return (
    <ChartCard
      id="breaks"
      title="Open reconciliation breaks by class"
      summary={`${total} open. ${run ? `Latest run: ${run.businessDate}, ${words(run.status)}.` : 'No run yet.'}`}
      action={<To to="/backoffice/reconciliation/breaks?status=open">Open breaks</To>}
      table={
        <SimpleTable
          label="Open breaks by class"
          head={['Class', 'Open']}
          rows={breaks.openByClass.map((r) => [sentence(r.class), r.count])}
        />
      }
    >
      {total === 0 ? (
        <Empty>No open breaks.</Empty>
      ) : (
        <BarChart
          h={220}
          data={breaks.openByClass.map((r) => ({ class: words(r.class), open: r.count }))}
          dataKey="class"
          orientation="vertical"
          maxBarWidth={36}
          yAxisProps={{ width: 130 }}
          series={[{ name: 'open', label: 'Open breaks', color: 'orange.6' }]}
          xAxisProps={{ allowDecimals: false }}
          role="img"
          aria-labelledby="breaks-title"
          aria-describedby="breaks-summary"
          data-testid="chart-breaks"
        />
      )}
    </ChartCard>
  );
}

export function SyncChart({ sync }: { sync: NonNullable<Dashboard['sync']> }) {
  const synced = sync.servers.filter((s) => s.lagSeconds !== null);
  const never = sync.servers.filter((s) => s.lagSeconds === null);
  const behind = synced.filter((s) => s.lagSeconds! > sync.lagAlertSeconds);
  // The axis always reaches the alert threshold, so its line shows how far each server is from it.
  const axisMax = Math.ceil(Math.max(sync.lagAlertSeconds, ...synced.map((s) => s.lagSeconds ?? 0)) * 1.1);
  return (
    <ChartCard
      id="sync"
      title="Trade sync lag per server"
      summary={`Alert above ${duration(sync.lagAlertSeconds)}. ${behind.length} of ${sync.servers.length} servers behind${
        never.length ? `; never synced: ${never.map((s) => s.server).join(', ')}` : ''
      }.`}
      action={<To to="/backoffice/servers">Servers</To>}
      table={
        <SimpleTable
          label="Trade sync lag per server"
          head={['Server', 'Synced to', 'Lag', 'Failures in a row']}
          rows={sync.servers.map((s) => [
            s.server,
            <DateTime key="d" value={s.syncedTo} />,
            s.lagSeconds === null ? 'never synced' : duration(s.lagSeconds),
            s.consecutiveFailures,
          ])}
        />
      }
    >
      {synced.length === 0 ? (
        <Empty>No server has synced yet.</Empty>
      ) : (
        <BarChart
          h={Math.max(140, synced.length * 44 + 60)}
          data={synced.map((s) => ({ server: s.server, lag: s.lagSeconds }))}
          dataKey="server"
          orientation="vertical"
          yAxisProps={{ width: 110 }}
          xAxisProps={{ domain: [0, axisMax] }}
          maxBarWidth={36}
          series={[{ name: 'lag', label: 'Lag (seconds)', color: 'cyan.6' }]}
          getBarColor={(v) => (v > sync.lagAlertSeconds ? 'red.6' : 'cyan.6')}
          referenceLines={[{ x: sync.lagAlertSeconds, label: 'alert', color: 'red.6' }]}
          valueFormatter={(v) => duration(v)}
          role="img"
          aria-labelledby="sync-title"
          aria-describedby="sync-summary"
          data-testid="chart-sync"
        />
      )}
    </ChartCard>
  );
}

const severityColor: Record<string, string> = { critical: 'red', warning: 'orange', info: 'blue' };

export function AlertsCard({ alerts }: { alerts: NonNullable<Dashboard['alerts']> }) {
  const total = alerts.openBySeverity.reduce((n, r) => n + r.count, 0);
  return (
    <Paper withBorder p="sm" component="section" aria-labelledby="alerts-title" data-testid="card-alerts">
      <Group justify="space-between" mb="xs">
        <Text fw={600} size="sm" id="alerts-title">
          Open alerts
        </Text>
        <To to="/backoffice/alerts">All alerts</To>
      </Group>
      <Group gap="xs" mb="sm" data-testid="alert-counts">
        {total === 0 ? <Text size="sm">None open.</Text> : null}
        {alerts.openBySeverity.map((r) => (
          <Badge key={r.severity} color={severityColor[r.severity] ?? 'gray'} variant="light">
            {r.count} {r.severity}
          </Badge>
        ))}
      </Group>
      <Stack gap={6}>
        {alerts.latest.map((a) => (
          <Group key={a.id} gap="xs" wrap="nowrap" align="flex-start">
            <Badge color={severityColor[a.severity] ?? 'gray'} variant="dot" style={{ flexShrink: 0 }}>
              {a.severity}
            </Badge>
            <Stack gap={0} style={{ minWidth: 0 }}>
              <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                {a.title}
              </Text>
              <Text size="xs" c="dimmed">
                {words(a.status)} · {a.occurrences}× · last <DateTime value={a.lastSeenAt} />
              </Text>
            </Stack>
          </Group>
        ))}
      </Stack>
    </Paper>
  );
}

/** Headline figures above the charts. */
export function Headlines({ d }: { d: Dashboard }) {
  const items: { label: string; value: string; to: string }[] = [];
  if (d.deposits) {
    const today = d.deposits.days.at(-1);
    const n = d.deposits.rows.filter((r) => r.day === today).reduce((s, r) => s + r.count, 0);
    items.push({ label: 'Deposits today', value: String(n), to: '/backoffice/movements' });
  }
  if (d.operations) {
    const n = d.operations.byStatus.filter((r) => r.status === 'needs_review').reduce((s, r) => s + r.count, 0);
    items.push({ label: 'Operations to review', value: String(n), to: '/backoffice/operations?status=needs_review' });
  }
  if (d.breaks) {
    items.push({
      label: 'Open breaks',
      value: String(d.breaks.openByClass.reduce((s, r) => s + r.count, 0)),
      to: '/backoffice/reconciliation/breaks?status=open',
    });
  }
  if (d.sync) {
    const worst = Math.max(0, ...d.sync.servers.map((s) => s.lagSeconds ?? 0));
    items.push({ label: 'Worst sync lag', value: duration(worst), to: '/backoffice/servers' });
  }
  if (d.alerts) {
    items.push({
      label: 'Open alerts',
      value: String(d.alerts.openBySeverity.reduce((s, r) => s + r.count, 0)),
      to: '/backoffice/alerts',
    });
  }
  if (items.length === 0) return null;
  return (
    <SimpleGrid cols={{ base: 2, sm: 3, lg: 5 }} spacing="sm">
      {items.map((i) => (
        <Paper key={i.label} withBorder p="sm" data-testid={`headline-${i.label.toLowerCase().replaceAll(' ', '-')}`}>
          <Text size="xs" c="dimmed">
            {i.label}
          </Text>
          <Text fw={700} size="xl">
            <To to={i.to} label={`${i.label}: ${i.value}`}>
              {i.value}
            </To>
          </Text>
        </Paper>
      ))}
    </SimpleGrid>
  );
}

/**
 * Statements: one per month (the last twelve, with their totals) or for any dates; a statement shows volume, totals
 * by level, symbol group and plan version, and its lines with the arithmetic of each. The printable view is a plain
 * document with every line, each recomputed in the browser, and the sum of the lines checked against the totals.
 */
import { Alert, Anchor, Button, Container, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, errorMessage } from '../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, PageTitle } from '../ui/components.tsx';
import { useApi } from '../ui/useApi.ts';
import { usePartner } from './auth.tsx';
import { usePeriodParam } from './Commission.tsx';
import { LinesPanel, LinesTable, PeriodPicker, StatementTables } from './shared/CommissionViews.tsx';
import { lineChecks } from './shared/line-math.ts';
import { monthFrom, monthKey, monthLabel, monthPeriod, type Period, periodLabel } from './shared/period.ts';
import type { Bucket, Line, LinesPage, Statement } from './shared/types.ts';

const statementLink = (p: Period) => `/partner/statements/view?${new URLSearchParams({ from: p.from, to: p.to })}`;
const printLink = (p: Period) => `/partner/statements/print?${new URLSearchParams({ from: p.from, to: p.to })}`;

export function StatementsScreen() {
  const navigate = useNavigate();
  const now = new Date();
  const months = Array.from({ length: 12 }, (_, i) => monthFrom(now, -i));
  const year = { from: monthPeriod(months.at(-1)!).from, to: monthPeriod(months[0]!).to };
  const { data, error, loading, reload } = useApi<{ buckets: Bucket[] }>('/api/partner/commissions/chart', {
    ...year,
    bucket: 'month',
  });
  return (
    <Stack gap="md">
      <PageTitle>Statements</PageTitle>
      <Paper withBorder p="md">
        <Stack gap="xs">
          <Text size="sm">A statement for any dates:</Text>
          <PeriodPicker value={monthPeriod(months[1]!)} onChange={(p) => navigate(statementLink(p))} />
        </Stack>
      </Paper>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <Table.ScrollContainer minWidth={420}>
          <Table striped withTableBorder aria-label="Monthly statements" data-testid="statements-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Month</Table.Th>
                <Table.Th ta="right">Lines</Table.Th>
                <Table.Th ta="right">Commission</Table.Th>
                <Table.Th>Statement</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {months.map((m) => {
                const rows = data.buckets.filter((b) => monthKey(new Date(b.start)) === m);
                return (
                  <Table.Tr key={m}>
                    <Table.Td>{monthLabel(m)}</Table.Td>
                    <Table.Td ta="right">{rows.reduce((n, b) => n + b.lines, 0)}</Table.Td>
                    <Table.Td ta="right">
                      {rows.length === 0
                        ? '—'
                        : rows.map((b) => (
                            <div key={b.currency}>
                              <Money minor={b.amountMinor} currency={b.currency} />
                            </div>
                          ))}
                    </Table.Td>
                    <Table.Td>
                      <Anchor
                        component={Link}
                        to={statementLink(monthPeriod(m))}
                        aria-label={`Open the statement for ${monthLabel(m)}`}
                      >
                        Open
                      </Anchor>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
    </Stack>
  );
}

export function StatementScreen() {
  const [period, setPeriod] = usePeriodParam();
  const { data, error, loading, reload } = useApi<{ statement: Statement }>(
    '/api/partner/commissions/statement',
    period,
  );
  return (
    <Stack gap="lg">
      <PageTitle
        actions={
          <Button component={Link} to={printLink(period)} variant="light">
            Printable view
          </Button>
        }
      >
        Statement: {periodLabel(period)}
      </PageTitle>
      <PeriodPicker key={`${period.from}|${period.to}`} value={period} onChange={setPeriod} />
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data ? <StatementTables statement={data.statement} /> : null}
      <LinesPanel path="/api/partner/commissions/lines" period={period} />
    </Stack>
  );
}

const PRINT_PAGE = 200;
const PRINT_MAX = 10_000;

/** Every line of the period (at most PRINT_MAX), read page by page. */
function useAllLines(period: Period) {
  const [state, setState] = useState<{ lines?: Line[]; total?: number; error?: string }>({});
  useEffect(() => {
    let stop = false;
    setState({});
    (async () => {
      const lines: Line[] = [];
      let offset: number | null = 0;
      let total = 0;
      while (offset !== null && lines.length < PRINT_MAX) {
        const page: LinesPage = await api.get<LinesPage>('/api/partner/commissions/lines', {
          ...period,
          limit: PRINT_PAGE,
          offset,
        });
        if (stop) return;
        lines.push(...page.items);
        total = page.total;
        offset = page.next;
      }
      if (!stop) setState({ lines, total });
    })().catch((err: unknown) => {
      if (!stop) setState({ error: errorMessage(err) });
    });
    return () => {
      stop = true;
    };
  }, [period]);
  return state;
}

export function PrintableStatement() {
  const { me } = usePartner();
  const [period] = usePeriodParam();
  const key = `${period.from}|${period.to}`;
  const stable = useStablePeriod(period, key);
  const statement = useApi<{ statement: Statement }>('/api/partner/commissions/statement', stable);
  const all = useAllLines(stable);
  const lines = all.lines ?? [];
  const failing = lines.filter((l) => !lineChecks(l));
  const sums = new Map<string, number>();
  for (const l of lines) sums.set(l.currency, (sums.get(l.currency) ?? 0) + l.amountMinor);
  const complete = all.total !== undefined && lines.length === all.total;
  const totalsAgree =
    statement.data !== undefined &&
    complete &&
    statement.data.statement.totals.every((t) => sums.get(t.currency) === t.amountMinor) &&
    [...sums.keys()].every((c) => statement.data!.statement.totals.some((t) => t.currency === c));

  return (
    <Container size="lg" py="md" className="bd-printable">
      <style>{'@media print { .bd-no-print { display: none !important; } .bd-printable { max-width: none; } }'}</style>
      <Group justify="space-between" className="bd-no-print" mb="md">
        <Anchor component={Link} to={statementLink(stable)}>
          ← Back to the statement
        </Anchor>
        <Button onClick={() => window.print()}>Print</Button>
      </Group>
      <Stack gap="md">
        <div>
          <Title order={1} size="h2">
            Commission statement
          </Title>
          <Text>
            {me.name} · {me.email} · referral code {me.referralCode}
          </Text>
          <Text>
            Period: {periodLabel(stable)} — trades closed from {new Date(stable.from).toISOString()} to before{' '}
            {new Date(stable.to).toISOString()}
          </Text>
          <Text size="sm" c="dimmed">
            Prepared <DateTime value={new Date()} />. Amounts in minor units are rounded once per line, half to even.
          </Text>
        </div>
        <ErrorAlert error={statement.error ?? all.error} onRetry={statement.reload} />
        {statement.loading && !statement.data ? <Loading /> : null}
        {statement.data ? <StatementTables statement={statement.data.statement} /> : null}
        {all.lines === undefined && !all.error ? <Loading label="Reading the lines…" /> : null}
        {all.lines ? (
          <>
            <Title order={3}>Lines ({lines.length})</Title>
            {all.total !== undefined && all.total > lines.length ? (
              <Alert color="yellow">
                This period has {all.total} lines; the first {lines.length} are printed. Choose a shorter period to
                print them all.
              </Alert>
            ) : null}
            <Paper withBorder p="sm" data-testid="statement-check">
              {failing.length === 0 && totalsAgree ? (
                <Text size="sm" c="teal">
                  ✓ Every line recomputed from its own figures gives its amount, and the lines add up to the totals
                  {[...sums.entries()].map(([c, v], i) => (
                    <span key={c}>
                      {i ? ', ' : ': '}
                      <Money minor={v} currency={c} />
                    </span>
                  ))}
                  .
                </Text>
              ) : (
                <Text size="sm" c="red">
                  {failing.length ? `${failing.length} lines do not recompute to their amount. ` : ''}
                  {!totalsAgree && complete ? 'The lines do not add up to the totals. ' : ''}
                  {!complete ? 'Not every line is printed, so the totals cannot be checked here.' : ''}
                </Text>
              )}
            </Paper>
            {lines.length ? <LinesTable lines={lines} compact /> : <Empty>No lines in this period.</Empty>}
          </>
        ) : null}
      </Stack>
    </Container>
  );
}

/** The same period object while its value stays the same (effects depend on it). */
function useStablePeriod(period: Period, key: string): Period {
  const [stable, setStable] = useState({ key, period });
  if (stable.key !== key) {
    setStable({ key, period });
    return period;
  }
  return stable.period;
}

/**
 * A partner's commission for a period: chart, statement with what is owed, the lines, and the recomputation that
 * recalculates the period from the trade records and plan versions and compares it with the stored lines.
 */
import { Alert, Button, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useState } from 'react';
import { api } from '../../api.ts';
import {
  CommissionChart,
  LinesPanel,
  PeriodPicker,
  presetPeriod,
  StatementTables,
} from '../../partner/shared/CommissionViews.tsx';
import type { Period } from '../../partner/shared/period.ts';
import type { Balance, Statement } from '../../partner/shared/types.ts';
import { ErrorAlert, Loading, Money } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import type { Recomputation } from './types.ts';

function RecomputeResult({ result }: { result: Recomputation }) {
  return (
    <Stack gap="xs" data-testid="recompute-result">
      <Alert color={result.equal ? 'teal' : 'red'} title={result.equal ? 'Equal to the stored lines' : 'Differences'}>
        Recomputed {result.trades} trades from the trade records and plan versions:{' '}
        {result.expected.length === 0
          ? 'nothing due'
          : result.expected.map((e, i) => (
              <span key={e.currency}>
                {i ? ', ' : ''}
                <Money minor={e.amountMinor} currency={e.currency} /> in {e.lines} lines
              </span>
            ))}
        ; stored:{' '}
        {result.stored.length === 0
          ? 'nothing'
          : result.stored.map((e, i) => (
              <span key={e.currency}>
                {i ? ', ' : ''}
                <Money minor={e.amountMinor} currency={e.currency} /> in {e.lines} lines
              </span>
            ))}
        .
      </Alert>
      {result.differences.length ? (
        <Table.ScrollContainer minWidth={600}>
          <Table withTableBorder striped aria-label="Differences">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Ticket</Table.Th>
                <Table.Th>Level</Table.Th>
                <Table.Th>Problem</Table.Th>
                <Table.Th>Field</Table.Th>
                <Table.Th>Expected</Table.Th>
                <Table.Th>Stored</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {result.differences.map((d, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: differences have no id of their own
                <Table.Tr key={i}>
                  <Table.Td>{d.ticket ?? '—'}</Table.Td>
                  <Table.Td>{d.level ?? '—'}</Table.Td>
                  <Table.Td>{d.problem.replaceAll('_', ' ')}</Table.Td>
                  <Table.Td>{d.field ?? ''}</Table.Td>
                  <Table.Td>{d.expected === undefined ? '' : JSON.stringify(d.expected)}</Table.Td>
                  <Table.Td>{d.stored === undefined ? '' : JSON.stringify(d.stored)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      {result.truncated ? <Text size="sm">More differences than listed.</Text> : null}
    </Stack>
  );
}

export function PartnerCommission({ partnerId }: { partnerId: string }) {
  const { can } = useStaff();
  const [period, setPeriod] = useState<Period>(() => presetPeriod('this_month'));
  const [size, setSize] = useState<'day' | 'month'>('day');
  const base = `/api/backoffice/partners/${partnerId}`;
  const statement = useApi<{ statement: Statement; balances: Balance[] }>(`${base}/commission-statement`, period);
  const [recomputed, setRecomputed] = useState<{ key: string; result: Recomputation }>();
  const recompute = useAction(() => api.get<{ recomputation: Recomputation }>(`${base}/commission-recompute`, period));
  const calculate = useAction(() =>
    api.post<{ result: { lines: number; reversals: number } }>('/api/backoffice/commissions/calculate'),
  );
  const key = `${period.from}|${period.to}`;
  const [tick, setTick] = useState(0);

  return (
    <Stack gap="lg" key={tick}>
      <Group justify="space-between" align="flex-end" wrap="wrap">
        <PeriodPicker value={period} onChange={setPeriod} />
        <Group gap="sm">
          <Button
            variant="light"
            loading={recompute.pending}
            onClick={async () => {
              const r = await recompute.run();
              if (r) setRecomputed({ key, result: r.recomputation });
            }}
          >
            Recompute and compare
          </Button>
          {can('commissions.manage') ? (
            <Button
              variant="default"
              loading={calculate.pending}
              onClick={async () => {
                const r = await calculate.run();
                if (r) {
                  notifications.show({
                    color: 'teal',
                    title: 'Calculation done',
                    message: `${r.result.lines} new lines, ${r.result.reversals} reversals (all partners).`,
                  });
                  statement.reload();
                  setTick((t) => t + 1);
                }
              }}
            >
              Calculate now
            </Button>
          ) : null}
        </Group>
      </Group>
      <ErrorAlert error={recompute.error ?? calculate.error} />
      {recomputed && recomputed.key === key ? <RecomputeResult result={recomputed.result} /> : null}
      <CommissionChart path={`${base}/commission-chart`} period={period} size={size} onSizeChange={setSize} />
      <Paper withBorder p="md">
        <Stack gap="sm">
          <Title order={3}>Statement</Title>
          <ErrorAlert error={statement.error} onRetry={statement.reload} />
          {statement.loading && !statement.data ? <Loading /> : null}
          {statement.data ? (
            <>
              <Text size="sm">
                Owed now (all periods):{' '}
                {statement.data.balances.length === 0
                  ? 'nothing'
                  : statement.data.balances.map((b, i) => (
                      <span key={b.currency}>
                        {i ? ', ' : ''}
                        <Money minor={b.balanceMinor} currency={b.currency} />
                      </span>
                    ))}
              </Text>
              <StatementTables statement={statement.data.statement} />
            </>
          ) : null}
        </Stack>
      </Paper>
      <LinesPanel path={`${base}/commission-lines`} period={period} />
    </Stack>
  );
}

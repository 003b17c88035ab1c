/** Every deposit, withdrawal, transfer, credit and adjustment, page by page; each one with its timeline in words. */
import { Anchor, Button, Group, NativeSelect, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import { useCallback } from 'react';
import { Link, Route, Routes, useParams, useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { MovementLink, MovementView, Section, useAccounts, usePoll } from '../components.tsx';
import { accountLabel, kindLabel, type MovementDetail, type MovementPage, settledStatuses } from '../types.ts';

const PAGE = 20;

export function MovementsPage() {
  return (
    <Routes>
      <Route index element={<MovementList />} />
      <Route path=":id" element={<MovementScreen />} />
    </Routes>
  );
}

function MovementList() {
  const [params, setParams] = useSearchParams();
  const accountId = params.get('account') ?? '';
  const kind = params.get('kind') ?? '';
  const page = Number(params.get('page') ?? 0) || 0;
  const accounts = useAccounts();
  const list = useApi<MovementPage>('/api/portal/movements', {
    limit: PAGE,
    offset: page * PAGE,
    accountId: accountId || undefined,
    kind: kind || undefined,
  });
  const byId = new Map((accounts.data?.items ?? []).map((a) => [a.id, a]));
  const update = (change: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(change)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next);
  };
  return (
    <Stack>
      <PageTitle>Money movements</PageTitle>
      <Section title="Filter">
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <NativeSelect
            label="Kind"
            value={kind}
            onChange={(e) => update({ kind: e.currentTarget.value, page: '' })}
            data={[
              { value: '', label: 'All kinds' },
              ...Object.entries(kindLabel).map(([value, label]) => ({ value, label })),
            ]}
          />
          <NativeSelect
            label="Account"
            value={accountId}
            onChange={(e) => update({ account: e.currentTarget.value, page: '' })}
            data={[
              { value: '', label: 'All accounts' },
              ...(accounts.data?.items ?? []).map((a) => ({ value: a.id, label: accountLabel(a) })),
            ]}
          />
        </SimpleGrid>
      </Section>
      <Section title="Movements">
        {list.error ? <ErrorAlert error={list.error} onRetry={list.reload} /> : null}
        {!list.data && list.loading ? <Loading /> : null}
        {list.data && list.data.items.length === 0 ? <Empty>No money movements here yet.</Empty> : null}
        {list.data?.items.length ? (
          <>
            <Table.ScrollContainer minWidth={340}>
              <Table striped aria-label="Money movements">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>What</Table.Th>
                    <Table.Th>Amount</Table.Th>
                    <Table.Th>Status</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.data.items.map((m) => {
                    const a = byId.get(m.accountId);
                    return (
                      <Table.Tr key={m.id}>
                        <Table.Td>
                          <MovementLink id={m.id}>{kindLabel[m.kind]}</MovementLink>
                          <Text size="xs" c="dimmed">
                            {a?.login ? `Account ${a.login} · ` : ''}
                            <DateTime value={m.createdAt} />
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          {m.kind === 'transfer' ? '' : m.direction === 'out' ? '−' : '+'}
                          <Money minor={m.amountMinor} currency={m.currency} />
                        </Table.Td>
                        <Table.Td>
                          <StatusBadge status={m.status} />
                        </Table.Td>
                      </Table.Tr>
                    );
                  })}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            <Pager
              page={page}
              hasNext={list.data.next !== null}
              onChange={(p) => update({ page: p ? String(p) : '' })}
            />
          </>
        ) : null}
      </Section>
    </Stack>
  );
}

function MovementScreen() {
  const { id } = useParams();
  const detail = useApi<MovementDetail>(`/api/portal/movements/${id}`);
  const accounts = useAccounts();
  const settled = detail.data ? settledStatuses.has(detail.data.movement.status) : false;
  usePoll(detail.reload, Boolean(detail.data) && !settled, 3000);
  const cancel = useAction(useCallback(() => api.post(`/api/portal/withdrawals/${id}/cancel`), [id]));
  const m = detail.data?.movement;
  return (
    <Stack>
      <PageTitle
        actions={
          <Anchor component={Link} to="/movements" size="sm">
            All money movements
          </Anchor>
        }
      >
        {m ? kindLabel[m.kind] : 'Money movement'}
      </PageTitle>
      {detail.error ? <ErrorAlert error={detail.error} onRetry={detail.reload} /> : null}
      {!detail.data && detail.loading ? <Loading /> : null}
      {detail.data && m ? (
        <Section title="Where it is">
          <MovementView detail={detail.data} accounts={accounts.data?.items} />
          <ErrorAlert error={cancel.error} />
          <Group mt="md">
            {m.status === 'awaiting_payment' && m.paymentUrl ? (
              <Button component="a" href={m.paymentUrl}>
                Continue to payment
              </Button>
            ) : null}
            {m.kind === 'withdrawal' && m.status === 'requested' ? (
              <Button
                color="red"
                variant="light"
                loading={cancel.pending}
                onClick={async () => {
                  if (await cancel.run()) detail.reload();
                }}
              >
                Cancel this withdrawal
              </Button>
            ) : null}
          </Group>
        </Section>
      ) : null}
    </Stack>
  );
}

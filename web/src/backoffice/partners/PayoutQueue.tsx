/** Every partner's IB payouts; by default the ones waiting for a decision (finance's approval queue). */
import { Anchor, Button, Group, NativeSelect, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router';
import { Empty, ErrorAlert, Loading, Pager, PageTitle } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { PayoutsTable } from './PayoutsTable.tsx';
import type { BackofficePayout } from './types.ts';

const PAGE = 25;
const statuses = ['requested', 'approved', 'paid', 'rejected', 'failed', 'cancelled', ''];

export function PayoutQueue() {
  const [status, setStatus] = useState('requested');
  const [page, setPage] = useState(0);
  const { data, error, loading, reload } = useApi<{ items: BackofficePayout[]; next: number | null }>(
    '/api/backoffice/ib-payouts',
    { status, limit: PAGE, offset: page * PAGE },
  );
  return (
    <Stack gap="md">
      <PageTitle
        actions={
          <Anchor component={Link} to="/backoffice/partners">
            ← Partners
          </Anchor>
        }
      >
        IB payouts
      </PageTitle>
      <Group justify="space-between" align="flex-end">
        <NativeSelect
          label="Status"
          value={status}
          onChange={(e) => {
            setStatus(e.currentTarget.value);
            setPage(0);
          }}
          data={statuses.map((s) => ({
            value: s,
            label: s === 'requested' ? 'Waiting for a decision' : s ? s : 'Any',
          }))}
        />
        <Button variant="default" size="xs" onClick={reload}>
          Refresh
        </Button>
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? (
        <Empty>{status === 'requested' ? 'No payout is waiting for a decision.' : 'No payouts.'}</Empty>
      ) : null}
      {data && data.items.length > 0 ? (
        <>
          <Text size="sm" c="dimmed">
            Whoever asked for a payout cannot approve it.
          </Text>
          <PayoutsTable items={data.items} onChanged={reload} />
        </>
      ) : null}
      <Pager page={page} hasNext={data?.next !== null && data?.next !== undefined} onChange={setPage} />
    </Stack>
  );
}

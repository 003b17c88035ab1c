/**
 * Back office: deposits and withdrawals. The approval queue (withdrawals, credits and adjustments waiting for a
 * decision, oldest first, with the approvals so far), every movement with filters, and one movement's detail with
 * maker-checker and its timeline.
 */
import { Anchor, Breadcrumbs, Group, NativeSelect, SegmentedControl, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { Route, Routes, useParams, useSearchParams } from 'react-router';
import { Empty, ErrorAlert, Loading, Pager, PageTitle } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { To, words } from '../common.tsx';
import { MovementDetail } from '../ops/MovementDetail.tsx';
import { MovementTable } from '../ops/MovementTable.tsx';
import { type ApprovalQueueItem, type MovementPage, movementKinds, movementStatuses } from '../ops/types.ts';

const PAGE = 25;

export function MovementsPage() {
  return (
    <Routes>
      <Route index element={<MovementList />} />
      <Route path=":id" element={<MovementScreen />} />
    </Routes>
  );
}

function MovementScreen() {
  const { id } = useParams();
  return (
    <Stack gap="sm">
      <Breadcrumbs>
        <To to="/backoffice/movements">Deposits &amp; withdrawals</To>
        <Text size="sm">Movement</Text>
      </Breadcrumbs>
      <MovementDetail id={id!} />
    </Stack>
  );
}

function MovementList() {
  const [params, setParams] = useSearchParams();
  const view = params.get('view') === 'all' ? 'all' : 'approvals';
  return (
    <Stack gap="md">
      <PageTitle>Deposits &amp; withdrawals</PageTitle>
      <SegmentedControl
        aria-label="Which movements"
        value={view}
        onChange={(v) => setParams(v === 'all' ? { view: 'all' } : {})}
        data={[
          { value: 'approvals', label: 'Waiting for a decision' },
          { value: 'all', label: 'All movements' },
        ]}
        style={{ alignSelf: 'flex-start' }}
      />
      {view === 'approvals' ? <ApprovalQueue /> : <AllMovements />}
    </Stack>
  );
}

function ApprovalQueue() {
  const [page, setPage] = useState(0);
  const { data, error, loading, reload } = useApi<{ items: ApprovalQueueItem[]; next: number | null }>(
    '/api/backoffice/approvals',
    { limit: PAGE, offset: page * PAGE },
  );
  return (
    <Stack gap="sm">
      <Text size="sm" c="dimmed">
        Withdrawals, credits and adjustments waiting for a decision, oldest first. The person who made a request cannot
        approve it; withdrawals at or above the threshold need two different approvers.
      </Text>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>Nothing is waiting for a decision.</Empty> : null}
      {data && data.items.length > 0 ? (
        <MovementTable
          items={data.items}
          linkTo={(m) => `/backoffice/movements/${m.id}`}
          label="Movements waiting for a decision"
        />
      ) : null}
      <Pager page={page} hasNext={data?.next != null} onChange={setPage} />
    </Stack>
  );
}

function AllMovements() {
  const [page, setPage] = useState(0);
  const [kind, setKind] = useState('');
  const [status, setStatus] = useState('');
  const { data, error, loading, reload } = useApi<MovementPage>('/api/backoffice/movements', {
    kind,
    status,
    limit: PAGE,
    offset: page * PAGE,
  });
  return (
    <Stack gap="sm">
      <Group align="flex-end" wrap="wrap">
        <NativeSelect
          label="Kind"
          value={kind}
          onChange={(e) => {
            setKind(e.currentTarget.value);
            setPage(0);
          }}
          data={[{ value: '', label: 'Any kind' }, ...movementKinds.map((k) => ({ value: k, label: words(k) }))]}
        />
        <NativeSelect
          label="Status"
          value={status}
          onChange={(e) => {
            setStatus(e.currentTarget.value);
            setPage(0);
          }}
          data={[{ value: '', label: 'Any status' }, ...movementStatuses.map((s) => ({ value: s, label: words(s) }))]}
        />
        {data ? (
          <Text size="sm" c="dimmed" aria-live="polite">
            {data.total} {data.total === 1 ? 'movement' : 'movements'}
          </Text>
        ) : null}
        <Anchor component="button" type="button" size="sm" onClick={reload}>
          Refresh
        </Anchor>
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No movements match.</Empty> : null}
      {data && data.items.length > 0 ? (
        <MovementTable items={data.items} linkTo={(m) => `/backoffice/movements/${m.id}`} label="Movements" />
      ) : null}
      <Pager page={page} hasNext={data?.next != null} onChange={setPage} />
    </Stack>
  );
}

/**
 * Back office: the audit trail, every change recorded in one hash chain. Newest first in pages, filtered by entity,
 * correlation (an operation reference, a request) or action; each event with its before/after and hashes; and the
 * chain verification (walks every event and says where it breaks, if it does).
 */
import { Alert, Anchor, Button, Code, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { Json, useKeyset } from '../common.tsx';
import type { AuditEvent, ChainReport } from '../control/types.ts';

const PAGE = 50;
const filterKeys = ['entityType', 'entityId', 'correlationId', 'action'] as const;

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(filterKeys.map((k) => [k, params.get(k) ?? ''])) as Record<
    (typeof filterKeys)[number],
    string
  >;
  const [draft, setDraft] = useState(filters);
  const keyset = useKeyset();
  const { data, error, loading, reload } = useApi<{ items: AuditEvent[]; next: number | null }>(
    '/api/backoffice/audit',
    { ...filters, order: 'desc', before: keyset.cursor, limit: PAGE },
  );
  const verify = useAction(() => api.get<ChainReport>('/api/backoffice/audit/verify'));
  const [report, setReport] = useState<ChainReport>();

  function submit(event: FormEvent) {
    event.preventDefault();
    const next = Object.fromEntries(Object.entries(draft).map(([k, v]) => [k, v.trim()]));
    setParams(Object.fromEntries(Object.entries(next).filter(([, v]) => v)));
    keyset.reset();
  }
  function filterBy(change: Partial<typeof filters>) {
    const next = { entityType: '', entityId: '', correlationId: '', action: '', ...change };
    setDraft(next);
    setParams(Object.fromEntries(Object.entries(next).filter(([, v]) => v)));
    keyset.reset();
  }
  async function runVerify() {
    setReport(undefined);
    const result = await verify.run();
    if (result) setReport(result);
  }

  return (
    <Stack gap="md">
      <PageTitle
        actions={
          <Button onClick={runVerify} loading={verify.pending}>
            Verify the chain
          </Button>
        }
      >
        Audit trail
      </PageTitle>
      <ErrorAlert error={verify.error} />
      {report ? (
        report.ok ? (
          <Alert color="green" title="Chain intact" data-testid="chain-result" data-ok="true">
            All {report.checked.toLocaleString('en-GB')} events checked: each one's hash matches its content and the
            event before it.
          </Alert>
        ) : (
          <Alert color="red" title="Chain broken" role="alert" data-testid="chain-result" data-ok="false">
            {report.checked.toLocaleString('en-GB')} events check out; event {report.brokenAt?.id} does not:{' '}
            {report.brokenAt?.reason}.{' '}
            {report.brokenAt ? (
              <Anchor
                component="button"
                type="button"
                onClick={() => {
                  setParams({});
                  keyset.go(1, report.brokenAt!.id + 1);
                }}
              >
                Show it
              </Anchor>
            ) : null}
          </Alert>
        )
      ) : null}
      <form onSubmit={submit} aria-label="Filter the audit trail">
        <Group align="flex-end" wrap="wrap">
          <TextInput
            label="Entity type"
            placeholder="money_movement"
            value={draft.entityType}
            onChange={(e) => setDraft({ ...draft, entityType: e.currentTarget.value })}
            w={160}
          />
          <TextInput
            label="Entity id"
            value={draft.entityId}
            onChange={(e) => setDraft({ ...draft, entityId: e.currentTarget.value })}
            w={280}
          />
          <TextInput
            label="Correlation"
            placeholder="BD-DEP-…"
            value={draft.correlationId}
            onChange={(e) => setDraft({ ...draft, correlationId: e.currentTarget.value })}
            w={200}
          />
          <TextInput
            label="Action"
            placeholder="staff.created"
            value={draft.action}
            onChange={(e) => setDraft({ ...draft, action: e.currentTarget.value })}
            w={180}
          />
          <Button type="submit">Apply</Button>
          <Anchor component="button" type="button" size="sm" onClick={() => filterBy({})}>
            Clear
          </Anchor>
        </Group>
      </form>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No audit events match.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={900}>
          <Table striped withTableBorder aria-label="Audit events, newest first" data-testid="audit-table" fz="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th ta="right">#</Table.Th>
                <Table.Th>When</Table.Th>
                <Table.Th>Who</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Entity</Table.Th>
                <Table.Th>Correlation</Table.Th>
                <Table.Th>Change</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((e) => (
                <Table.Tr key={e.id} data-event={e.id}>
                  <Table.Td ta="right">{e.id}</Table.Td>
                  <Table.Td>
                    <DateTime value={e.at} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{e.actorType}</Text>
                    {e.actorId ? (
                      <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                        {e.actorId}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    <Anchor component="button" type="button" size="sm" onClick={() => filterBy({ action: e.action })}>
                      {e.action}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <Anchor
                      component="button"
                      type="button"
                      size="sm"
                      onClick={() => filterBy({ entityType: e.entityType, entityId: e.entityId })}
                      aria-label={`Everything about ${e.entityType} ${e.entityId}`}
                    >
                      {e.entityType}
                    </Anchor>
                    <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                      {e.entityId}
                    </Text>
                  </Table.Td>
                  <Table.Td maw={200}>
                    {e.correlationId ? (
                      <Anchor
                        component="button"
                        type="button"
                        size="xs"
                        style={{ overflowWrap: 'anywhere', textAlign: 'left' }}
                        onClick={() => filterBy({ correlationId: e.correlationId! })}
                      >
                        {e.correlationId}
                      </Anchor>
                    ) : (
                      '—'
                    )}
                  </Table.Td>
                  <Table.Td maw={320}>
                    <Json value={e.before} summary="Before" />
                    <Json value={e.after} summary="After" />
                    <details>
                      <summary style={{ cursor: 'pointer', fontSize: 'var(--mantine-font-size-xs)' }}>Hashes</summary>
                      <Code block fz="xs" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
                        {`previous ${e.prevHash}\nthis     ${e.hash}`}
                      </Code>
                    </details>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={keyset.page} hasNext={data?.next != null} onChange={(p) => keyset.go(p, data?.next)} />
    </Stack>
  );
}

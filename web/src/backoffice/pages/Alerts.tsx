/**
 * Back office: alerts. Open ones first by default, filtered by status and severity, in pages; acknowledge (seen, being
 * handled) and resolve with what was done. An alert about an operation links to it.
 */
import { Anchor, Badge, Button, Card, Group, NativeSelect, Stack, Text, Textarea } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useCallback, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { Json, To, words } from '../common.tsx';
import type { AlertRow } from '../ops/types.ts';

const PAGE = 20;
const severityColors = { info: 'blue', warning: 'orange', critical: 'red' } as const;

export function AlertsPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get('status') ?? 'open';
  const severity = params.get('severity') ?? '';
  const [page, setPage] = useState(0);
  const { data, error, loading, reload } = useApi<{ items: AlertRow[]; next: number | null }>(
    '/api/backoffice/alerts',
    {
      status: status === 'any' ? undefined : status,
      severity,
      limit: PAGE,
      offset: page * PAGE,
    },
  );
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next);
    setPage(0);
  };
  return (
    <Stack gap="md">
      <PageTitle>Alerts</PageTitle>
      <Group align="flex-end" wrap="wrap">
        <NativeSelect
          label="Status"
          value={status}
          onChange={(e) => set('status', e.currentTarget.value)}
          data={[
            { value: 'open', label: 'Open' },
            { value: 'acknowledged', label: 'Acknowledged' },
            { value: 'resolved', label: 'Resolved' },
            { value: 'any', label: 'Any status' },
          ]}
        />
        <NativeSelect
          label="Severity"
          value={severity}
          onChange={(e) => set('severity', e.currentTarget.value)}
          data={[
            { value: '', label: 'Any severity' },
            { value: 'critical', label: 'Critical' },
            { value: 'warning', label: 'Warning' },
            { value: 'info', label: 'Info' },
          ]}
        />
        <Anchor component="button" type="button" size="sm" onClick={reload}>
          Refresh
        </Anchor>
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No alerts here.</Empty> : null}
      <Stack gap="sm" data-testid="alerts">
        {data?.items.map((a) => (
          <AlertCard key={a.id} alert={a} onChanged={reload} />
        ))}
      </Stack>
      <Pager page={page} hasNext={data?.next != null} onChange={setPage} />
    </Stack>
  );
}

function AlertCard({ alert, onChanged }: { alert: AlertRow; onChanged: () => void }) {
  const { can } = useStaff();
  const [resolving, setResolving] = useState(false);
  const [resolution, setResolution] = useState('');
  const acknowledge = useAction(
    useCallback(() => api.post<AlertRow>(`/api/backoffice/alerts/${alert.id}/acknowledge`), [alert.id]),
  );
  const resolve = useAction(
    useCallback(
      () => api.post<AlertRow>(`/api/backoffice/alerts/${alert.id}/resolve`, { resolution: resolution.trim() }),
      [alert.id, resolution],
    ),
  );
  const operationId = typeof alert.details?.operationId === 'string' ? alert.details.operationId : null;
  const movementId = typeof alert.details?.movementId === 'string' ? alert.details.movementId : null;

  async function doAcknowledge() {
    if (await acknowledge.run()) {
      notifications.show({ message: 'Alert acknowledged.' });
      onChanged();
    }
  }
  async function doResolve() {
    if (await resolve.run()) {
      notifications.show({ color: 'green', message: 'Alert resolved.' });
      setResolving(false);
      onChanged();
    }
  }

  return (
    <Card withBorder data-alert={alert.id} component="article" aria-label={alert.title}>
      <Stack gap="xs">
        <Group justify="space-between" wrap="wrap" align="flex-start">
          <Group gap="xs" wrap="wrap">
            <Badge color={severityColors[alert.severity]}>{alert.severity}</Badge>
            <StatusBadge status={alert.status} />
            <Text size="xs" c="dimmed">
              {words(alert.kind)}
              {alert.occurrences > 1 ? ` · ${alert.occurrences} times` : ''}
            </Text>
          </Group>
          <Text size="xs" c="dimmed">
            first <DateTime value={alert.firstSeenAt} /> · last <DateTime value={alert.lastSeenAt} />
          </Text>
        </Group>
        <Text fw={500} style={{ overflowWrap: 'anywhere' }}>
          {alert.title}
        </Text>
        <Group gap="md">
          {operationId && can('operations.read') ? (
            <To to={`/backoffice/operations/${operationId}`}>Open the operation</To>
          ) : null}
          {movementId && can('funding.read') ? (
            <To to={`/backoffice/movements/${movementId}`}>Open the movement</To>
          ) : null}
          <Json value={alert.details} />
        </Group>
        {alert.acknowledgedAt ? (
          <Text size="xs" c="dimmed">
            Acknowledged by {alert.acknowledgedByName ?? alert.acknowledgedBy} on{' '}
            <DateTime value={alert.acknowledgedAt} />
          </Text>
        ) : null}
        {alert.resolvedAt ? (
          <Text size="xs" c="dimmed">
            Resolved by {alert.resolvedByName ?? alert.resolvedBy} on <DateTime value={alert.resolvedAt} />:{' '}
            {alert.resolution}
          </Text>
        ) : null}
        <ErrorAlert error={acknowledge.error ?? resolve.error} />
        {alert.status !== 'resolved' && can('alerts.manage') ? (
          resolving ? (
            <Stack gap="xs">
              <Textarea
                label="Resolution"
                description="What was done (at least three characters)."
                value={resolution}
                onChange={(e) => setResolution(e.currentTarget.value)}
                maxLength={500}
                autosize
                minRows={2}
              />
              <Group>
                <Button size="xs" color="green" onClick={doResolve} loading={resolve.pending}>
                  Resolve
                </Button>
                <Button size="xs" variant="default" onClick={() => setResolving(false)}>
                  Back
                </Button>
              </Group>
            </Stack>
          ) : (
            <Group>
              {alert.status === 'open' ? (
                <Button size="xs" variant="light" onClick={doAcknowledge} loading={acknowledge.pending}>
                  Acknowledge
                </Button>
              ) : null}
              <Button size="xs" variant="light" color="green" onClick={() => setResolving(true)}>
                Resolve…
              </Button>
            </Group>
          )
        ) : null}
      </Stack>
    </Card>
  );
}

/**
 * Which commission plan a partner is on from when. A change takes effect from a date (now by default) and never
 * before trades already commissioned (the API refuses it and says up to when).
 */
import { Anchor, Button, Group, NativeSelect, Paper, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import type { Assignment, PlanListItem } from './types.ts';
import { toUtcInput, utcInput, utcText } from './when.ts';

const NONE = '__none__';

function AssignPlan({ partnerId, onDone }: { partnerId: string; onDone: () => void }) {
  const plans = useApi<{ items: PlanListItem[] }>('/api/backoffice/commission-plans');
  const active = (plans.data?.items ?? []).filter((p) => p.status === 'active');
  const [planId, setPlanId] = useState('');
  const [when, setWhen] = useState(() => toUtcInput(new Date()));
  const [whenError, setWhenError] = useState<string>();
  const [reason, setReason] = useState('');
  const action = useAction((body: unknown) => api.post(`/api/backoffice/partners/${partnerId}/plan-assignments`, body));
  const chosen = planId || active[0]?.id || '';

  async function submit(event: FormEvent) {
    event.preventDefault();
    const at = utcInput(when);
    if ('error' in at) {
      setWhenError(at.error);
      return;
    }
    setWhenError(undefined);
    const result = await action.run({
      planId: chosen === NONE ? null : chosen,
      effectiveFrom: at.iso,
      reason: reason.trim(),
    });
    if (result) {
      notifications.show({ color: 'teal', message: 'Plan assignment saved.' });
      setReason('');
      onDone();
    }
  }

  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label="Put the partner on a plan">
        <Stack gap="sm">
          <Title order={4}>Put on a plan</Title>
          <ErrorAlert error={plans.error} onRetry={plans.reload} />
          <Group grow align="flex-start" wrap="wrap">
            <NativeSelect
              label="Plan"
              value={chosen}
              onChange={(e) => setPlanId(e.currentTarget.value)}
              data={[
                ...active.map((p) => ({ value: p.id, label: `${p.code} — ${p.name} (${p.currency})` })),
                { value: NONE, label: 'No plan (no commission from then on)' },
              ]}
            />
            <TextInput
              label="In force from (UTC)"
              type="datetime-local"
              value={when}
              onChange={(e) => setWhen(e.currentTarget.value)}
              error={whenError}
              required
            />
          </Group>
          <TextInput
            label="Reason"
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            required
            minLength={3}
          />
          <ErrorAlert error={action.error} />
          <Group>
            <Button type="submit" loading={action.pending} disabled={!chosen}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

export function PartnerPlan({ partnerId }: { partnerId: string }) {
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<{ items: Assignment[] }>(
    `/api/backoffice/partners/${partnerId}/plan-assignments`,
  );
  const now = Date.now();
  const current = data?.items.find((a) => new Date(a.effectiveFrom).getTime() <= now);
  return (
    <Stack gap="md">
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <Text size="sm">
          Now on:{' '}
          {current?.planId ? (
            <Anchor component={Link} to={`/backoffice/commission-plans/${current.planId}`}>
              {current.planCode} — {current.planName}
            </Anchor>
          ) : (
            <b>no plan</b>
          )}
        </Text>
      ) : null}
      {data && data.items.length === 0 ? <Empty>Never put on a plan: earns no commission.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={560}>
          <Table striped withTableBorder aria-label="Plan assignments">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>In force from</Table.Th>
                <Table.Th>Plan</Table.Th>
                <Table.Th>Reason</Table.Th>
                <Table.Th>Recorded</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td>{utcText(a.effectiveFrom)}</Table.Td>
                  <Table.Td>
                    {a.planId ? (
                      <Anchor component={Link} to={`/backoffice/commission-plans/${a.planId}`}>
                        {a.planCode}
                      </Anchor>
                    ) : (
                      'no plan'
                    )}
                  </Table.Td>
                  <Table.Td>{a.reason}</Table.Td>
                  <Table.Td>
                    <DateTime value={a.createdAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      {can('commissions.manage') ? <AssignPlan partnerId={partnerId} onDone={reload} /> : null}
    </Stack>
  );
}

/** A partner's place in the IB tree and the changes a partner manager may make (name, status, master IB). */
import {
  Anchor,
  Button,
  Group,
  NativeSelect,
  Paper,
  Stack,
  Text,
  TextInput,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useEffect, useState } from 'react';
import { Link } from 'react-router';
import { api, errorMessage } from '../../api.ts';
import { DateTime, ErrorAlert, Loading, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import type { PartnerData } from './PartnerDetail.tsx';
import { PartnerSelect } from './PartnerSelect.tsx';
import type { PartnerListItem, PartnerView } from './types.ts';

const MAX_DEPTH = 12;

/** The master IBs above a partner, nearest last (read one by one: trees are shallow). */
function useAncestors(partner: PartnerView) {
  const [state, setState] = useState<{ chain?: PartnerView[]; error?: string }>({});
  useEffect(() => {
    let stop = false;
    (async () => {
      const chain: PartnerView[] = [];
      let parent = partner.parentId;
      while (parent && chain.length < MAX_DEPTH) {
        const { partner: p } = await api.get<{ partner: PartnerView }>(`/api/backoffice/partners/${parent}`);
        chain.unshift(p);
        parent = p.parentId;
      }
      if (!stop) setState({ chain });
    })().catch((err: unknown) => {
      if (!stop) setState({ error: errorMessage(err) });
    });
    return () => {
      stop = true;
    };
  }, [partner.parentId]);
  return state;
}

/** A partner's sub-IBs, each expandable to its own (loaded when opened). */
function SubIbs({ parentId, depth }: { parentId: string; depth: number }) {
  const { data, error, loading, reload } = useApi<{ items: PartnerListItem[]; next: number | null }>(
    '/api/backoffice/partners',
    { parentId, limit: 100 },
  );
  if (error) return <ErrorAlert error={error} onRetry={reload} />;
  if (loading && !data) return <Loading />;
  if (!data || data.items.length === 0) {
    return depth === 0 ? (
      <Text size="sm" c="dimmed">
        No sub-IBs.
      </Text>
    ) : null;
  }
  return (
    <ul style={{ listStyle: 'none', paddingLeft: depth === 0 ? 0 : 20, margin: 0 }}>
      {data.items.map((p) => (
        <SubIb key={p.id} partner={p} depth={depth} />
      ))}
      {data.next !== null ? (
        <li>
          <Text size="xs" c="dimmed">
            More than 100 sub-IBs: search for them in the list.
          </Text>
        </li>
      ) : null}
    </ul>
  );
}

function SubIb({ partner, depth }: { partner: PartnerListItem; depth: number }) {
  const [open, setOpen] = useState(false);
  return (
    <li>
      <Group gap="xs" wrap="nowrap">
        {depth < MAX_DEPTH ? (
          <UnstyledButton
            onClick={() => setOpen((o) => !o)}
            aria-expanded={open}
            aria-label={`${open ? 'Hide' : 'Show'} the sub-IBs of ${partner.name}`}
            w={20}
          >
            {open ? '▾' : '▸'}
          </UnstyledButton>
        ) : null}
        <Anchor component={Link} to={`/backoffice/partners/${partner.id}`} size="sm">
          {partner.name}
        </Anchor>
        <Text size="xs" c="dimmed">
          {partner.referredClients} clients
        </Text>
        {partner.status !== 'active' ? <StatusBadge status={partner.status} /> : null}
      </Group>
      {open ? <SubIbs parentId={partner.id} depth={depth + 1} /> : null}
    </li>
  );
}

function EditPartner({ data, onChanged }: { data: PartnerData; onChanged: () => void }) {
  const { partner } = data;
  const [name, setName] = useState(partner.name);
  const [status, setStatus] = useState(partner.status);
  const [parentId, setParentId] = useState<string | null>(partner.parentId);
  const [reason, setReason] = useState('');
  const action = useAction((body: unknown) => api.patch(`/api/backoffice/partners/${partner.id}`, body));

  async function submit(event: FormEvent) {
    event.preventDefault();
    const change: Record<string, unknown> = { reason: reason.trim() };
    if (name.trim() !== partner.name) change.name = name.trim();
    if (status !== partner.status) change.status = status;
    if (parentId !== partner.parentId) change.parentId = parentId;
    if (Object.keys(change).length === 1) {
      notifications.show({ color: 'gray', message: 'Nothing changed.' });
      return;
    }
    if (await action.run(change)) {
      notifications.show({ color: 'teal', message: 'Partner updated.' });
      setReason('');
      onChanged();
    }
  }

  return (
    <Paper withBorder p="md">
      <form onSubmit={submit}>
        <Stack gap="sm">
          <Title order={3}>Change</Title>
          <Group grow align="flex-start" wrap="wrap">
            <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
            <NativeSelect
              label="Status"
              description="Suspending signs the partner out and pauses payouts"
              value={status}
              onChange={(e) => setStatus(e.currentTarget.value as typeof status)}
              data={[
                { value: 'active', label: 'Active' },
                { value: 'suspended', label: 'Suspended' },
              ]}
            />
          </Group>
          <PartnerSelect
            label="Master IB"
            description="Empty: a top-level partner"
            value={parentId}
            onChange={setParentId}
            exclude={partner.id}
          />
          <TextInput
            label="Reason (kept in the audit trail)"
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            required
            minLength={3}
          />
          <ErrorAlert error={action.error} />
          <Group>
            <Button type="submit" loading={action.pending}>
              Save changes
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

export function PartnerOverview({ data, onChanged }: { data: PartnerData; onChanged: () => void }) {
  const { can } = useStaff();
  const { partner } = data;
  const ancestors = useAncestors(partner);
  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        Partner since <DateTime value={partner.createdAt} />; last changed <DateTime value={partner.updatedAt} />.
      </Text>
      <Paper withBorder p="md">
        <Stack gap="xs" data-testid="ib-tree">
          <Title order={3}>IB tree</Title>
          <ErrorAlert error={ancestors.error} />
          {ancestors.chain === undefined && !ancestors.error ? <Loading /> : null}
          {ancestors.chain?.map((p, i) => (
            <Group key={p.id} gap="xs" pl={i * 20}>
              <Text size="sm" c="dimmed">
                {i === (ancestors.chain?.length ?? 0) - 1 ? 'Master IB' : `Master, ${ancestors.chain!.length - i} up`}
              </Text>
              <Anchor component={Link} to={`/backoffice/partners/${p.id}`} size="sm">
                {p.name}
              </Anchor>
            </Group>
          ))}
          <Group gap="xs" pl={(ancestors.chain?.length ?? 0) * 20}>
            <Text size="sm" fw={700}>
              {partner.name}
            </Text>
          </Group>
          <div style={{ paddingLeft: ((ancestors.chain?.length ?? 0) + 1) * 20 }}>
            <SubIbs parentId={partner.id} depth={0} />
          </div>
        </Stack>
      </Paper>
      {can('partners.manage') ? <EditPartner key={partner.updatedAt} data={data} onChanged={onChanged} /> : null}
    </Stack>
  );
}

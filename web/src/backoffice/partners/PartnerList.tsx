/** Partners: search by name, email, code or id; a new partner (its first password is shown once). */
import {
  Alert,
  Anchor,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  NativeSelect,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { PartnerSelect } from './PartnerSelect.tsx';
import type { PartnerListItem, PartnerView } from './types.ts';

const PAGE = 25;

interface Created {
  partner: PartnerView;
  initialPassword: string;
  referralLink: string;
}

function NewPartner({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [parentId, setParentId] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [created, setCreated] = useState<Created>();
  const action = useAction((body: unknown) => api.post<Created>('/api/backoffice/partners', body));

  async function submit(event: FormEvent) {
    event.preventDefault();
    const result = await action.run({
      email: email.trim(),
      name: name.trim(),
      ...(parentId ? { parentId } : {}),
      ...(code.trim() ? { referralCode: code.trim() } : {}),
    });
    if (result) setCreated(result);
  }

  return (
    <Modal opened onClose={onClose} title={created ? 'Partner created' : 'New partner'} size="lg">
      {created ? (
        <Stack gap="sm">
          <Alert color="yellow" title="The first password is shown only now">
            Hand it to {created.partner.name} securely; they can change it in the partner portal.
          </Alert>
          <Group gap="xs">
            <Code fz="md" data-testid="initial-password">
              {created.initialPassword}
            </Code>
            <CopyButton value={created.initialPassword}>
              {({ copied, copy }) => (
                <Button size="xs" variant="light" onClick={copy}>
                  {copied ? 'Copied' : 'Copy password'}
                </Button>
              )}
            </CopyButton>
          </Group>
          <Text size="sm">
            Referral link: <Code>{created.referralLink}</Code>
          </Text>
          <Group justify="flex-end">
            <Button onClick={() => navigate(`/backoffice/partners/${created.partner.id}`)}>Open the partner</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={submit}>
          <Stack gap="sm">
            <TextInput
              label="Email"
              type="email"
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
              required
            />
            <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
            <PartnerSelect
              label="Master IB (optional)"
              description="Makes this partner a sub-IB of another"
              value={parentId}
              onChange={setParentId}
            />
            <TextInput
              label="Referral code (optional)"
              description="4 to 32 letters and digits; a random code when empty"
              value={code}
              onChange={(e) => setCode(e.currentTarget.value)}
            />
            <ErrorAlert error={action.error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={onClose}>
                Cancel
              </Button>
              <Button type="submit" loading={action.pending}>
                Create partner
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}

export function PartnerList() {
  const { can } = useStaff();
  const [q, setQ] = useState('');
  const [query] = useDebouncedValue(q, 300);
  const [status, setStatus] = useState('');
  const [page, setPage] = useState(0);
  const [creating, setCreating] = useState(false);
  const { data, error, loading, reload } = useApi<{ items: PartnerListItem[]; next: number | null }>(
    '/api/backoffice/partners',
    { q: query.trim(), status, limit: PAGE, offset: page * PAGE },
  );

  return (
    <Stack gap="md">
      <PageTitle
        actions={
          <>
            {can('commissions.read') ? (
              <Button component={Link} to="/backoffice/partners/payouts" variant="light">
                IB payouts
              </Button>
            ) : null}
            {can('partners.manage') ? <Button onClick={() => setCreating(true)}>New partner</Button> : null}
          </>
        }
      >
        Partners
      </PageTitle>
      <Group align="flex-end" wrap="wrap">
        <TextInput
          label="Search"
          placeholder="Name, email, referral code or id"
          value={q}
          onChange={(e) => {
            setQ(e.currentTarget.value);
            setPage(0);
          }}
          w={320}
          maw="100%"
        />
        <NativeSelect
          label="Status"
          value={status}
          onChange={(e) => {
            setStatus(e.currentTarget.value);
            setPage(0);
          }}
          data={[
            { value: '', label: 'Any' },
            { value: 'active', label: 'Active' },
            { value: 'suspended', label: 'Suspended' },
          ]}
        />
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No partners match.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={760}>
          <Table striped highlightOnHover withTableBorder aria-label="Partners" data-testid="partners-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Email</Table.Th>
                <Table.Th>Referral code</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Master IB</Table.Th>
                <Table.Th ta="right">Clients</Table.Th>
                <Table.Th>Since</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((p) => (
                <Table.Tr key={p.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/backoffice/partners/${p.id}`}>
                      {p.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{p.email}</Table.Td>
                  <Table.Td>
                    <Code>{p.referralCode}</Code>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={p.status} />
                  </Table.Td>
                  <Table.Td>
                    {p.parentId ? (
                      <Anchor
                        component={Link}
                        to={`/backoffice/partners/${p.parentId}`}
                        size="sm"
                        aria-label={`The master IB of ${p.name}`}
                      >
                        Open
                      </Anchor>
                    ) : (
                      '—'
                    )}
                  </Table.Td>
                  <Table.Td ta="right">{p.referredClients}</Table.Td>
                  <Table.Td>
                    <DateTime value={p.createdAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={page} hasNext={data?.next !== null && data?.next !== undefined} onChange={setPage} />
      {creating ? <NewPartner onClose={() => setCreating(false)} /> : null}
    </Stack>
  );
}

/**
 * Back office: staff and roles. Everyone who can sign in to the back office with their roles, two-factor state and
 * whether they are disabled (in pages, searchable); adding a staff member; changing roles; disabling (which ends their
 * sessions) and enabling again. What each role may do is shown from the permissions table the API enforces.
 */
import {
  Anchor,
  Badge,
  Button,
  Checkbox,
  Group,
  Paper,
  PasswordInput,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { sentence } from '../common.tsx';
import { type StaffMember, staffRoles } from '../control/types.ts';

const PAGE = 25;

/** What a role is for, in a few words (the API's permission table is the authority). */
const roleText: Record<string, string> = {
  admin: 'everything, including staff, servers and products',
  compliance: 'clients, KYC review, audit trail, reconciliation (read)',
  finance: 'deposits and withdrawals, approvals, reconciliation and write-offs, payouts',
  support: 'clients, KYC documents, movements and operations (read)',
  dealing: 'servers, accounts, operations (retry, cancel), external changes',
  partner_manager: 'partners and commission plans',
};

export function StaffPage() {
  const { me, can } = useStaff();
  const { data, error, loading, reload } = useApi<{ items: StaffMember[] }>('/api/backoffice/staff');
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(0);
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<StaffMember | null>(null);
  const q = search.trim().toLowerCase();
  const items = (data?.items ?? []).filter(
    (s) => !q || s.name.toLowerCase().includes(q) || s.email.includes(q) || s.roles.some((r) => r.includes(q)),
  );
  const shown = items.slice(page * PAGE, page * PAGE + PAGE);
  const manage = can('staff.manage');

  return (
    <Stack gap="md">
      <PageTitle actions={manage ? <Button onClick={() => setAdding(true)}>Add a staff member</Button> : null}>
        Staff and roles
      </PageTitle>
      {adding ? (
        <NewStaff
          onSaved={() => {
            setAdding(false);
            reload();
          }}
          onCancel={() => setAdding(false)}
        />
      ) : null}
      {editing ? (
        <EditStaff
          key={editing.id}
          member={editing}
          self={editing.id === me.staff.id}
          onSaved={() => {
            setEditing(null);
            reload();
          }}
          onCancel={() => setEditing(null)}
        />
      ) : null}
      <TextInput
        label="Search"
        placeholder="Name, email or role"
        value={search}
        onChange={(e) => {
          setSearch(e.currentTarget.value);
          setPage(0);
        }}
        maw={320}
      />
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && items.length === 0 ? <Empty>No staff member matches.</Empty> : null}
      {shown.length > 0 ? (
        <Table.ScrollContainer minWidth={760}>
          <Table striped withTableBorder aria-label="Staff" data-testid="staff-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Roles</Table.Th>
                <Table.Th>Two-factor</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Since</Table.Th>
                {manage ? <Table.Th>Change</Table.Th> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((s) => (
                <Table.Tr key={s.id} data-staff={s.email}>
                  <Table.Td>
                    <Text size="sm" fw={600}>
                      {s.name}
                      {s.id === me.staff.id ? ' (you)' : ''}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {s.email}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {s.roles.map((r) => (
                        <Badge key={r} variant="light">
                          {sentence(r)}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>{s.totpEnabled ? 'on' : 'off'}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={s.disabled ? 'disabled' : 'active'} />
                  </Table.Td>
                  <Table.Td>
                    <DateTime value={s.createdAt} />
                  </Table.Td>
                  {manage ? (
                    <Table.Td>
                      <Anchor component="button" type="button" size="sm" onClick={() => setEditing(s)}>
                        Change {s.name}
                      </Anchor>
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={page} hasNext={(page + 1) * PAGE < items.length} onChange={setPage} />
    </Stack>
  );
}

function RolePicker({ value, onChange }: { value: string[]; onChange: (roles: string[]) => void }) {
  return (
    <Checkbox.Group label="Roles" value={value} onChange={onChange} withAsterisk>
      <Stack gap={6} mt={6}>
        {staffRoles.map((r) => (
          <Checkbox key={r} value={r} label={sentence(r)} description={roleText[r]} />
        ))}
      </Stack>
    </Checkbox.Group>
  );
}

function NewStaff({ onSaved, onCancel }: { onSaved: () => void; onCancel: () => void }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [roles, setRoles] = useState<string[]>(['support']);
  const save = useAction((body: unknown) => api.post<StaffMember>('/api/backoffice/staff', body));
  async function submit(event: FormEvent) {
    event.preventDefault();
    const created = await save.run({ email: email.trim(), name: name.trim(), password, roles });
    if (created) {
      notifications.show({
        color: 'green',
        message: `${created.name} can sign in now${roles.some((r) => ['admin', 'finance', 'dealing'].includes(r)) ? ' (two-factor enrolment at first sign-in)' : ''}.`,
      });
      onSaved();
    }
  }
  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label="Add a staff member">
        <Stack gap="sm">
          <Title order={3} size="h4">
            Add a staff member
          </Title>
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
            <TextInput
              label="Email"
              type="email"
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
              required
            />
            <PasswordInput
              label="Initial password"
              description="At least 12 characters"
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              required
            />
          </SimpleGrid>
          <RolePicker value={roles} onChange={setRoles} />
          <ErrorAlert error={save.error} />
          <Group>
            <Button type="submit" loading={save.pending}>
              Add staff member
            </Button>
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

function EditStaff({
  member,
  self,
  onSaved,
  onCancel,
}: {
  member: StaffMember;
  self: boolean;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const [roles, setRoles] = useState<string[]>(member.roles);
  const save = useAction((body: { roles?: string[]; disabled?: boolean }) =>
    api.patch<StaffMember>(`/api/backoffice/staff/${member.id}`, body),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await save.run({ roles })) {
      notifications.show({ color: 'green', message: `Roles of ${member.name} changed.` });
      onSaved();
    }
  }
  async function toggle() {
    if (await save.run({ disabled: !member.disabled })) {
      notifications.show({
        color: 'green',
        message: member.disabled
          ? `${member.name} may sign in again.`
          : `${member.name} is disabled; their sessions ended.`,
      });
      onSaved();
    }
  }
  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label={`Change ${member.name}`}>
        <Stack gap="sm">
          <Title order={3} size="h4">
            {member.name} · {member.email}
          </Title>
          <RolePicker value={roles} onChange={setRoles} />
          <ErrorAlert error={save.error} />
          <Group>
            <Button type="submit" loading={save.pending}>
              Save roles
            </Button>
            <Button
              color={member.disabled ? 'green' : 'red'}
              variant="light"
              onClick={toggle}
              loading={save.pending}
              disabled={self && !member.disabled}
              title={self ? 'You cannot disable yourself here' : undefined}
            >
              {member.disabled ? 'Enable' : 'Disable'} {member.name}
            </Button>
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

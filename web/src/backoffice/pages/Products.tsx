/**
 * Back office: products (account types) and their group mapping: which server and group an account of the product
 * opens in, its currency, leverages and KYC policy. Saving is checked by the API against the server's real group
 * list; a refusal names the setting to fix and is shown as the API words it.
 */
import {
  Anchor,
  Button,
  Checkbox,
  Group,
  List,
  NativeSelect,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useCallback, useState } from 'react';
import { ApiError, api } from '../../api.ts';
import { Empty, ErrorAlert, Loading, Money, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { formatMoney, parseMoney } from '../../ui/money.ts';
import { useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { sentence } from '../common.tsx';
import { kycPolicies, type Product, type Server } from '../control/types.ts';

const PAGE = 25;

export function ProductsPage() {
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<{ items: Product[] }>('/api/backoffice/products');
  const [editing, setEditing] = useState<Product | 'new' | null>(null);
  const [page, setPage] = useState(0);
  const items = data?.items ?? [];
  const shown = items.slice(page * PAGE, page * PAGE + PAGE);
  return (
    <Stack gap="md">
      <PageTitle
        actions={can('products.manage') ? <Button onClick={() => setEditing('new')}>Add a product</Button> : null}
      >
        Products
      </PageTitle>
      {editing ? (
        <ProductForm
          product={editing === 'new' ? null : editing}
          onSaved={() => {
            setEditing(null);
            reload();
          }}
          onCancel={() => setEditing(null)}
        />
      ) : null}
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && items.length === 0 ? <Empty>No products yet.</Empty> : null}
      {shown.length > 0 ? (
        <Table.ScrollContainer minWidth={1000}>
          <Table striped withTableBorder aria-label="Products" data-testid="products-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Product</Table.Th>
                <Table.Th>Server → group</Table.Th>
                <Table.Th>Currency</Table.Th>
                <Table.Th>Leverages</Table.Th>
                <Table.Th>KYC policy</Table.Th>
                <Table.Th>Demo deposit</Table.Th>
                <Table.Th>Status</Table.Th>
                {can('products.manage') ? <Table.Th>Change</Table.Th> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((p) => (
                <Table.Tr key={p.id} data-product={p.code}>
                  <Table.Td>
                    <Text fw={600} size="sm">
                      {p.name}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {p.code} · {p.environment}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {p.serverCode} → {p.groupName}
                    </Text>
                    {p.restrictedGroupName ? (
                      <Text size="xs" c="dimmed">
                        until KYC: {p.restrictedGroupName}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td>{p.currency}</Table.Td>
                  <Table.Td>
                    1:{p.defaultLeverage} (of {p.allowedLeverages.map((l) => `1:${l}`).join(', ')})
                  </Table.Td>
                  <Table.Td>{sentence(p.kycPolicy)}</Table.Td>
                  <Table.Td>{p.demoDeposit ? <Money minor={p.demoDeposit} currency={p.currency} /> : '—'}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={p.enabled ? 'active' : 'cancelled'} />
                  </Table.Td>
                  {can('products.manage') ? (
                    <Table.Td>
                      <Anchor component="button" type="button" size="sm" onClick={() => setEditing(p)}>
                        Edit {p.code}
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

interface Draft {
  code: string;
  name: string;
  environment: 'live' | 'demo';
  serverCode: string;
  groupName: string;
  currency: string;
  allowedLeverages: string;
  defaultLeverage: string;
  kycPolicy: string;
  restrictedGroupName: string;
  demoDeposit: string;
  enabled: boolean;
}

function ProductForm({
  product,
  onSaved,
  onCancel,
}: {
  product: Product | null;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const { can } = useStaff();
  const servers = useApi<{ items: Server[] }>(can('servers.read') ? '/api/backoffice/servers' : null);
  const [d, setD] = useState<Draft>({
    code: product?.code ?? '',
    name: product?.name ?? '',
    environment: product?.environment ?? 'live',
    serverCode: product?.serverCode ?? '',
    groupName: product?.groupName ?? '',
    currency: product?.currency ?? 'USD',
    allowedLeverages: product?.allowedLeverages.join(', ') ?? '50, 100, 200',
    defaultLeverage: String(product?.defaultLeverage ?? 100),
    kycPolicy: product?.kycPolicy ?? 'create_on_approval',
    restrictedGroupName: product?.restrictedGroupName ?? '',
    demoDeposit:
      product?.demoDeposit != null
        ? formatMoney(product.demoDeposit, product.currency)
            .replace(/ [A-Z]{3}$/, '')
            .replaceAll(',', '')
        : '',
    enabled: product?.enabled ?? true,
  });
  const [error, setError] = useState<string>();
  const [problems, setProblems] = useState<{ setting: string; message: string }[]>([]);
  const [pending, setPending] = useState(false);
  const set = (change: Partial<Draft>) => setD({ ...d, ...change });

  const body = useCallback((): Record<string, unknown> | string => {
    const leverages = d.allowedLeverages
      .split(/[,\s]+/)
      .filter(Boolean)
      .map((x) => Number(x.replace(/^1:/, '')));
    if (leverages.length === 0 || leverages.some((l) => !Number.isInteger(l) || l < 1)) {
      return 'Allowed leverages: whole numbers separated by commas, e.g. 50, 100, 200';
    }
    const def = Number(d.defaultLeverage.replace(/^1:/, ''));
    if (!Number.isInteger(def) || def < 1) return 'Default leverage: a whole number such as 100';
    let demoDeposit: number | null = null;
    if (d.demoDeposit.trim()) {
      const parsed = parseMoney(d.demoDeposit, d.currency.trim().toUpperCase() || 'USD');
      if ('error' in parsed) return `Demo deposit: ${parsed.error}`;
      demoDeposit = parsed.minor;
    }
    const value: Record<string, unknown> = {
      name: d.name.trim(),
      environment: d.environment,
      serverCode: d.serverCode.trim(),
      groupName: d.groupName.trim(),
      currency: d.currency.trim().toUpperCase(),
      allowedLeverages: leverages,
      defaultLeverage: def,
      kycPolicy: d.kycPolicy,
      restrictedGroupName: d.restrictedGroupName.trim() || null,
      demoDeposit,
      enabled: d.enabled,
    };
    if (!product) value.code = d.code.trim();
    return value;
  }, [d, product]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const value = body();
    setProblems([]);
    if (typeof value === 'string') {
      setError(value);
      return;
    }
    setPending(true);
    setError(undefined);
    try {
      const saved = product
        ? await api.patch<Product>(`/api/backoffice/products/${product.id}`, value)
        : await api.post<Product>('/api/backoffice/products', value);
      notifications.show({
        color: 'green',
        message: `Product ${saved.code} saved; its mapping was checked on the server.`,
      });
      onSaved();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      const details = err instanceof ApiError ? err.details : undefined;
      const list = (details as { problems?: unknown } | undefined)?.problems ?? details;
      if (Array.isArray(list)) {
        setProblems(
          list
            .filter((p): p is { setting: string; message: string } => typeof p?.setting === 'string')
            .map((p) => ({ setting: p.setting, message: p.message })),
        );
      }
    } finally {
      setPending(false);
    }
  }

  const serverOptions = servers.data?.items ?? [];
  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label={product ? `Change product ${product.code}` : 'Add a product'}>
        <Stack gap="sm">
          <Title order={3} size="h4">
            {product ? `Change ${product.code}` : 'Add a product'}
          </Title>
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
            <TextInput
              label="Code"
              description="e.g. std-usd"
              value={d.code}
              onChange={(e) => set({ code: e.currentTarget.value })}
              readOnly={!!product}
              required
            />
            <TextInput label="Name" value={d.name} onChange={(e) => set({ name: e.currentTarget.value })} required />
            <NativeSelect
              label="Environment"
              value={d.environment}
              onChange={(e) => set({ environment: e.currentTarget.value as Draft['environment'] })}
              data={[
                { value: 'live', label: 'Live' },
                { value: 'demo', label: 'Demo' },
              ]}
            />
            {serverOptions.length > 0 ? (
              <NativeSelect
                label="Server"
                value={d.serverCode}
                onChange={(e) => set({ serverCode: e.currentTarget.value })}
                data={[
                  { value: '', label: 'Choose a server' },
                  ...serverOptions.map((s) => ({
                    value: s.code,
                    label: `${s.code} (${s.platform}, ${s.environment})`,
                  })),
                ]}
                required
              />
            ) : (
              <TextInput
                label="Server"
                description="The server's code, e.g. mt5-live"
                value={d.serverCode}
                onChange={(e) => set({ serverCode: e.currentTarget.value })}
                required
              />
            )}
            <TextInput
              label="Group on the server"
              description={'e.g. real\\standard-usd'}
              value={d.groupName}
              onChange={(e) => set({ groupName: e.currentTarget.value })}
              required
            />
            <TextInput
              label="Currency"
              description="ISO code, e.g. USD"
              value={d.currency}
              onChange={(e) => set({ currency: e.currentTarget.value })}
              maxLength={3}
              required
            />
            <TextInput
              label="Allowed leverages"
              description="Comma separated, e.g. 50, 100, 200"
              value={d.allowedLeverages}
              onChange={(e) => set({ allowedLeverages: e.currentTarget.value })}
              required
            />
            <TextInput
              label="Default leverage"
              inputMode="numeric"
              value={d.defaultLeverage}
              onChange={(e) => set({ defaultLeverage: e.currentTarget.value })}
              required
            />
            <NativeSelect
              label="KYC policy"
              value={d.kycPolicy}
              onChange={(e) => set({ kycPolicy: e.currentTarget.value })}
              data={kycPolicies.map((k) => ({ value: k, label: sentence(k) }))}
            />
            <TextInput
              label="Restricted group (until KYC)"
              description="Only for “move group on approval”"
              value={d.restrictedGroupName}
              onChange={(e) => set({ restrictedGroupName: e.currentTarget.value })}
            />
            <TextInput
              label="Demo deposit"
              description="Demo products only, in the product's currency"
              inputMode="decimal"
              value={d.demoDeposit}
              onChange={(e) => set({ demoDeposit: e.currentTarget.value })}
            />
          </SimpleGrid>
          <Checkbox
            label="Enabled (clients may open accounts of it)"
            checked={d.enabled}
            onChange={(e) => set({ enabled: e.currentTarget.checked })}
          />
          <ErrorAlert error={error} />
          {problems.length > 0 ? (
            <List size="sm" c="red" aria-label="Settings to fix">
              {problems.map((p) => (
                <List.Item key={`${p.setting}:${p.message}`}>
                  {p.setting}: {p.message}
                </List.Item>
              ))}
            </List>
          ) : null}
          <Group>
            <Button type="submit" loading={pending}>
              Save product
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

/**
 * Trading accounts: the list, opening a live or demo account of a product (the passwords are shown once), and one
 * account with its actions (deposit, withdraw, leverage, a new trading password) and its trading history.
 */
import { Alert, Anchor, Button, Code, Group, NativeSelect, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import { type FormEvent, type ReactNode, useCallback, useState } from 'react';
import { Link, Route, Routes, useParams } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { BalanceFacts, Section, useAccounts } from '../components.tsx';
import type { Account, OperationSummary, Product } from '../types.ts';
import { HistoryTable, OpenOrdersTable } from './History.tsx';

export function AccountsPage() {
  return (
    <Routes>
      <Route index element={<AccountList />} />
      <Route path=":id" element={<AccountDetail />} />
    </Routes>
  );
}

function AccountList() {
  const accounts = useAccounts();
  return (
    <Stack>
      <PageTitle>Trading accounts</PageTitle>
      <OpenAccount onOpened={accounts.reload} />
      <Section title="Your accounts">
        {accounts.error ? <ErrorAlert error={accounts.error} onRetry={accounts.reload} /> : null}
        {!accounts.data && accounts.loading ? <Loading /> : null}
        {accounts.data && accounts.data.items.length === 0 ? <Empty>No trading account yet.</Empty> : null}
        {accounts.data?.items.length ? <AccountTable accounts={accounts.data.items} /> : null}
      </Section>
    </Stack>
  );
}

function AccountTable({ accounts }: { accounts: Account[] }) {
  return (
    <Table.ScrollContainer minWidth={340}>
      <Table striped aria-label="Trading accounts">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Login</Table.Th>
            <Table.Th>Account</Table.Th>
            <Table.Th>Status</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {accounts.map((a) => (
            <Table.Tr key={a.id} data-testid={`account-${a.login ?? a.id}`}>
              <Table.Td>
                <Anchor component={Link} to={`/accounts/${a.id}`}>
                  {a.login ?? 'being opened'}
                </Anchor>
              </Table.Td>
              <Table.Td>
                <Text size="sm">
                  {a.productName} · {a.environment} · {a.currency}
                </Text>
                <Text size="xs" c="dimmed">
                  {a.serverCode} · leverage 1:{a.leverage}
                </Text>
              </Table.Td>
              <Table.Td>
                <StatusBadge status={a.status} />
                <Text size="xs" c={a.failureReason ? 'red' : 'dimmed'}>
                  {a.failureReason ?? `Trading: ${tradingWords(a)}`}
                </Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function tradingWords(a: Account): string {
  if (a.status !== 'open') return '—';
  if (a.tradingEnabled) return 'Allowed';
  return a.environment === 'live' ? 'Waiting for identity verification' : 'Not allowed';
}

interface OpenResult {
  account: Account;
  credentials: { mainPassword: string; investorPassword: string } | null;
  operation: OperationSummary | null;
}

function OpenAccount({ onOpened }: { onOpened: () => void }) {
  const products = useApi<{ items: Product[] }>('/api/portal/products');
  const [productId, setProductId] = useState('');
  const [leverage, setLeverage] = useState('');
  const [opened, setOpened] = useState<OpenResult>();
  const open = useAction(
    useCallback(
      (body: { productId: string; leverage?: number }) => api.post<OpenResult>('/api/portal/accounts', body),
      [],
    ),
  );
  const product = products.data?.items.find((p) => p.id === productId);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!product) return;
    const result = await open.run({ productId, ...(leverage ? { leverage: Number(leverage) } : {}) });
    if (result) {
      setOpened(result);
      setProductId('');
      setLeverage('');
      onOpened();
    }
  }

  const group = (environment: 'live' | 'demo') =>
    (products.data?.items ?? [])
      .filter((p) => p.environment === environment)
      .map((p) => ({
        value: p.id,
        label: `${p.name} (${p.currency})${p.kycRequired ? ' · needs verified identity to trade' : ''}`,
      }));

  return (
    <Section title="Open an account">
      {products.error ? <ErrorAlert error={products.error} onRetry={products.reload} /> : null}
      {opened ? <OpenedNotice result={opened} onClose={() => setOpened(undefined)} /> : null}
      <form onSubmit={submit} aria-label="Open an account">
        <Stack>
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <NativeSelect
              label="Account type"
              value={productId}
              onChange={(e) => {
                setProductId(e.currentTarget.value);
                setLeverage('');
              }}
              required
              data={[
                { value: '', label: products.data?.items.length ? 'Choose an account type' : 'None offered yet' },
                ...(group('live').length ? [{ group: 'Live accounts', items: group('live') }] : []),
                ...(group('demo').length ? [{ group: 'Demo accounts', items: group('demo') }] : []),
              ]}
            />
            <NativeSelect
              label="Leverage"
              value={leverage || String(product?.defaultLeverage ?? '')}
              onChange={(e) => setLeverage(e.currentTarget.value)}
              disabled={!product}
              data={
                product
                  ? product.allowedLeverages.map((l) => ({ value: String(l), label: `1:${l}` }))
                  : [{ value: '', label: 'Choose an account type first' }]
              }
            />
          </SimpleGrid>
          {product?.environment === 'demo' && product.demoDeposit ? (
            <Text size="sm" c="dimmed">
              A demo account starts with virtual money to practise with.
            </Text>
          ) : null}
          <ErrorAlert error={open.error} />
          <Group>
            <Button type="submit" loading={open.pending} disabled={!product}>
              Open account
            </Button>
          </Group>
        </Stack>
      </form>
    </Section>
  );
}

function OpenedNotice({ result, onClose }: { result: OpenResult; onClose: () => void }) {
  return (
    <Alert
      color="green"
      title="Your account is being opened"
      role="status"
      mb="md"
      withCloseButton
      closeButtonLabel="Dismiss"
      onClose={onClose}
    >
      <Stack gap="xs">
        <Text size="sm">
          {result.credentials
            ? 'It appears in the list with its login as soon as the trading server confirms it (usually seconds).'
            : 'It opens on the trading server as soon as your identity is verified.'}
        </Text>
        {result.credentials ? (
          <>
            <Text size="sm" fw={600}>
              Write these passwords down now: they are shown only once.
            </Text>
            <Text size="sm">
              Trading password: <Code data-testid="main-password">{result.credentials.mainPassword}</Code>
            </Text>
            <Text size="sm">
              Investor (read-only) password: <Code>{result.credentials.investorPassword}</Code>
            </Text>
          </>
        ) : null}
      </Stack>
    </Alert>
  );
}

function AccountDetail() {
  const { id } = useParams();
  const state = useApi<{ account: Account; operations: OperationSummary[] }>(`/api/portal/accounts/${id}`);
  if (state.error) return <ErrorAlert error={state.error} onRetry={state.reload} />;
  if (!state.data) return <Loading />;
  const a = state.data.account;
  return (
    <Stack>
      <PageTitle
        actions={
          <Anchor component={Link} to="/accounts" size="sm">
            All accounts
          </Anchor>
        }
      >
        Account {a.login ?? '(being opened)'}
      </PageTitle>
      <Section title="Details" actions={<StatusBadge status={a.status} />}>
        <SimpleGrid cols={{ base: 2, md: 4 }}>
          <Fact label="Account type">
            {a.productName} ({a.environment})
          </Fact>
          <Fact label="Server">{a.serverCode}</Fact>
          <Fact label="Currency">{a.currency}</Fact>
          <Fact label="Leverage">1:{a.leverage}</Fact>
          <Fact label="Trading">{tradingWords(a)}</Fact>
          <Fact label="Opened">
            <DateTime value={a.createdAt} />
          </Fact>
        </SimpleGrid>
        {a.status === 'open' ? (
          <Group mt="md">
            <Button component={Link} to={`/deposit?account=${a.id}`} size="xs">
              Deposit
            </Button>
            <Button component={Link} to={`/withdraw?account=${a.id}`} size="xs" variant="light">
              Withdraw
            </Button>
            <Button component={Link} to={`/movements?account=${a.id}`} size="xs" variant="default">
              Money movements
            </Button>
          </Group>
        ) : null}
      </Section>
      {a.status === 'open' ? (
        <Section
          title="Money on the account"
          actions={
            <Text size="xs" c="dimmed">
              as the trading server has it now
            </Text>
          }
        >
          <BalanceFacts accountId={a.id} />
        </Section>
      ) : null}
      {a.status === 'open' ? (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <LeverageChange account={a} onChanged={state.reload} />
          <PasswordReset account={a} />
        </SimpleGrid>
      ) : null}
      <Section title="Trading history">
        <HistoryTable path={`/api/portal/accounts/${a.id}/history`} showAccount={false} />
      </Section>
      {a.login !== null ? (
        <Section title="Open orders">
          <OpenOrdersTable accountId={a.id} showAccount={false} />
        </Section>
      ) : null}
    </Stack>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm">{children}</Text>
    </div>
  );
}

function LeverageChange({ account, onChanged }: { account: Account; onChanged: () => void }) {
  const products = useApi<{ items: Product[] }>('/api/portal/products');
  const product = products.data?.items.find((p) => p.id === account.productId);
  const [leverage, setLeverage] = useState('');
  const [done, setDone] = useState(false);
  const change = useAction(
    useCallback(
      (value: number) => api.post(`/api/portal/accounts/${account.id}/leverage`, { leverage: value }),
      [account.id],
    ),
  );
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!leverage) return;
    if (await change.run(Number(leverage))) {
      setDone(true);
      onChanged();
    }
  }
  return (
    <Section title="Leverage">
      <form onSubmit={submit} aria-label="Change leverage">
        <Stack>
          <NativeSelect
            label="New leverage"
            value={leverage}
            onChange={(e) => {
              setLeverage(e.currentTarget.value);
              setDone(false);
            }}
            data={[
              { value: '', label: `Now 1:${account.leverage}` },
              ...(product?.allowedLeverages ?? [])
                .filter((l) => l !== account.leverage)
                .map((l) => ({ value: String(l), label: `1:${l}` })),
            ]}
          />
          {done ? (
            <Text size="sm" c="green" role="status">
              Requested: the trading server applies it in a moment.
            </Text>
          ) : null}
          <ErrorAlert error={change.error} />
          <Group>
            <Button type="submit" variant="light" loading={change.pending} disabled={!leverage}>
              Change leverage
            </Button>
          </Group>
        </Stack>
      </form>
    </Section>
  );
}

function PasswordReset({ account }: { account: Account }) {
  const [confirming, setConfirming] = useState(false);
  const [password, setPassword] = useState<string>();
  const reset = useAction(
    useCallback(
      () =>
        api.post<{ password: string; operation: OperationSummary }>(
          `/api/portal/accounts/${account.id}/password-reset`,
        ),
      [account.id],
    ),
  );
  async function run() {
    const result = await reset.run();
    setConfirming(false);
    if (result) setPassword(result.password);
  }
  return (
    <Section title="Trading password">
      <Stack>
        <Text size="sm">Forgot the password of this account? Set a new one; the old one stops working.</Text>
        {password ? (
          <Alert color="green" role="status" title="New trading password">
            <Stack gap={4}>
              <Text size="sm">
                <Code data-testid="new-trading-password">{password}</Code>
              </Text>
              <Text size="sm">Write it down now: it is shown only once. It works within a minute.</Text>
            </Stack>
          </Alert>
        ) : null}
        <ErrorAlert error={reset.error} />
        {confirming ? (
          <Group>
            <Button color="red" onClick={run} loading={reset.pending}>
              Yes, set a new password
            </Button>
            <Button variant="default" onClick={() => setConfirming(false)}>
              Keep the current one
            </Button>
          </Group>
        ) : (
          <Group>
            <Button variant="light" onClick={() => setConfirming(true)}>
              Reset trading password
            </Button>
          </Group>
        )}
      </Stack>
    </Section>
  );
}

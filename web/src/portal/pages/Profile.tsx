/** The client's details (name, phone, country; the email is their sign-in) and two-factor sign-in. */
import { Alert, Anchor, Button, Code, Group, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { api } from '../../api.ts';
import { ErrorAlert, Loading, PageTitle } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useClient } from '../auth.tsx';
import { CountrySelect, Section } from '../components.tsx';

interface Profile {
  email: string;
  name: string;
  phone: string | null;
  country: string;
}

export function ProfilePage() {
  return (
    <Stack>
      <PageTitle>Profile & security</PageTitle>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <ProfileForm />
        <TwoFactor />
      </SimpleGrid>
    </Stack>
  );
}

function ProfileForm() {
  const { reload: reloadMe } = useClient();
  const profile = useApi<Profile>('/api/portal/profile');
  const [form, setForm] = useState({ name: '', phone: '', country: '' });
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (profile.data) {
      setForm({ name: profile.data.name, phone: profile.data.phone ?? '', country: profile.data.country });
    }
  }, [profile.data]);
  const save = useAction(
    useCallback((body: Record<string, unknown>) => api.patch<Profile>('/api/portal/profile', body), []),
  );

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    const result = await save.run({ name: form.name, country: form.country, phone: form.phone.trim() || null });
    if (result) {
      setSaved(true);
      void reloadMe();
    }
  }

  return (
    <Section title="Your details">
      {profile.error ? <ErrorAlert error={profile.error} onRetry={profile.reload} /> : null}
      {!profile.data && profile.loading ? <Loading /> : null}
      {profile.data ? (
        <form onSubmit={submit} aria-label="Your details">
          <Stack>
            <TextInput
              label="Email"
              value={profile.data.email}
              readOnly
              description="Your sign-in; contact support to change it."
            />
            <TextInput
              label="Full name"
              autoComplete="name"
              value={form.name}
              onChange={(e) => setForm({ ...form, name: e.currentTarget.value })}
              required
            />
            <TextInput
              label="Phone"
              type="tel"
              autoComplete="tel"
              value={form.phone}
              onChange={(e) => setForm({ ...form, phone: e.currentTarget.value })}
            />
            <CountrySelect value={form.country} onChange={(country) => setForm({ ...form, country })} />
            {saved ? (
              <Text size="sm" c="green" role="status">
                Saved.
              </Text>
            ) : null}
            <ErrorAlert error={save.error} />
            <Group>
              <Button type="submit" loading={save.pending}>
                Save
              </Button>
            </Group>
          </Stack>
        </form>
      ) : null}
    </Section>
  );
}

interface TwoFactorStatus {
  enabled: boolean;
  pending: boolean;
}

function TwoFactor() {
  const { reload: reloadMe } = useClient();
  const status = useApi<TwoFactorStatus>('/api/portal/security/two-factor');
  const [setup, setSetup] = useState<{ secret: string; uri: string }>();
  const [code, setCode] = useState('');
  const [message, setMessage] = useState<string>();
  const start = useAction(
    useCallback(() => api.post<{ secret: string; uri: string }>('/api/portal/security/two-factor/setup'), []),
  );
  const confirm = useAction(
    useCallback(
      (value: string) => api.post<TwoFactorStatus>('/api/portal/security/two-factor/confirm', { code: value }),
      [],
    ),
  );
  const disable = useAction(
    useCallback(
      (value: string) => api.post<TwoFactorStatus>('/api/portal/security/two-factor/disable', { code: value }),
      [],
    ),
  );
  const error = start.error ?? confirm.error ?? disable.error;

  async function begin() {
    setMessage(undefined);
    const result = await start.run();
    if (result) {
      setSetup(result);
      setCode('');
    }
  }
  async function submitConfirm(event: FormEvent) {
    event.preventDefault();
    if (await confirm.run(code)) {
      setSetup(undefined);
      setCode('');
      setMessage(
        'Two-factor sign-in is on: from now on you sign in with a code from your app as well. You were signed out on your other devices.',
      );
      status.reload();
      void reloadMe();
    }
  }
  async function submitDisable(event: FormEvent) {
    event.preventDefault();
    if (await disable.run(code)) {
      setCode('');
      setMessage('Two-factor sign-in is off.');
      status.reload();
      void reloadMe();
    }
  }

  return (
    <Section title="Two-factor sign-in">
      {status.error ? <ErrorAlert error={status.error} onRetry={status.reload} /> : null}
      {!status.data && status.loading ? <Loading /> : null}
      {status.data ? (
        <Stack>
          <Text size="sm" data-testid="two-factor-status">
            {status.data.enabled
              ? 'On: signing in asks for a code from your authenticator app. Lost the app? Contact support: after checking who you are, they can turn it off so that you can set it up again.'
              : 'Off: add a code from an authenticator app (Google Authenticator, Authy, 1Password…) to your password.'}
          </Text>
          {message ? (
            <Alert color="green" role="status">
              {message}
            </Alert>
          ) : null}
          <ErrorAlert error={error} />
          {status.data.enabled ? (
            <form onSubmit={submitDisable} aria-label="Turn off two-factor sign-in">
              <Stack>
                <TextInput
                  label="Current code from your app"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  value={code}
                  onChange={(e) => setCode(e.currentTarget.value)}
                  required
                />
                <Group>
                  <Button type="submit" color="red" variant="light" loading={disable.pending}>
                    Turn off two-factor
                  </Button>
                </Group>
              </Stack>
            </form>
          ) : setup ? (
            <form onSubmit={submitConfirm} aria-label="Confirm two-factor sign-in">
              <Stack>
                <Text size="sm">
                  Add this key to your authenticator app (or open the link on your phone), then enter the 6-digit code
                  it shows.
                </Text>
                <Code block data-testid="totp-secret">
                  {setup.secret}
                </Code>
                <Anchor href={setup.uri} size="xs" style={{ wordBreak: 'break-all' }}>
                  {setup.uri}
                </Anchor>
                <TextInput
                  label="Code from the app"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  value={code}
                  onChange={(e) => setCode(e.currentTarget.value)}
                  required
                />
                <Group>
                  <Button type="submit" loading={confirm.pending}>
                    Turn on two-factor
                  </Button>
                  <Button variant="default" onClick={() => setSetup(undefined)}>
                    Not now
                  </Button>
                </Group>
              </Stack>
            </form>
          ) : (
            <Group>
              <Button onClick={begin} loading={start.pending}>
                Set up two-factor sign-in
              </Button>
            </Group>
          )}
        </Stack>
      ) : null}
    </Section>
  );
}

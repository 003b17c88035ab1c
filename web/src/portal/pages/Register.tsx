/** Registration (from a partner's referral link the code comes along), then straight into the portal. */
import { Alert, Anchor, Button, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, errorMessage } from '../../api.ts';
import { ErrorAlert } from '../../ui/components.tsx';
import { CountrySelect, PublicFrame } from '../components.tsx';

export function RegisterPage({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [params] = useSearchParams();
  const referralCode = params.get('ref')?.trim() || undefined;
  const [form, setForm] = useState({ name: '', email: '', password: '', country: '', phone: '' });
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState(false);
  const set = (key: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [key]: value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    if (form.password.length < 10) {
      setError('Passwords need at least 10 characters.');
      return;
    }
    setPending(true);
    try {
      await api.post('/api/portal/auth/register', {
        name: form.name,
        email: form.email,
        password: form.password,
        country: form.country,
        ...(form.phone.trim() ? { phone: form.phone.trim() } : {}),
        ...(referralCode ? { referralCode } : {}),
      });
      await api.post('/api/portal/auth/login', { email: form.email, password: form.password });
      await onSignedIn();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setPending(false);
    }
  }

  return (
    <PublicFrame title="Open your client profile">
      <form onSubmit={submit} aria-label="Registration">
        <Stack>
          {referralCode ? (
            <Alert color="indigo" variant="light">
              You were referred by partner code <strong>{referralCode}</strong>.
            </Alert>
          ) : null}
          <TextInput
            label="Full name"
            autoComplete="name"
            value={form.name}
            onChange={(e) => set('name')(e.currentTarget.value)}
            required
          />
          <TextInput
            label="Email"
            type="email"
            autoComplete="email"
            value={form.email}
            onChange={(e) => set('email')(e.currentTarget.value)}
            required
          />
          <PasswordInput
            label="Password"
            description="At least 10 characters."
            autoComplete="new-password"
            value={form.password}
            onChange={(e) => set('password')(e.currentTarget.value)}
            required
          />
          <CountrySelect value={form.country} onChange={set('country')} />
          <TextInput
            label="Phone (optional)"
            type="tel"
            autoComplete="tel"
            placeholder="+357 22 123456"
            value={form.phone}
            onChange={(e) => set('phone')(e.currentTarget.value)}
          />
          <ErrorAlert error={error} />
          <Button type="submit" loading={pending}>
            Register
          </Button>
          <Text size="sm">
            Already registered?{' '}
            <Anchor component={Link} to="/">
              Sign in
            </Anchor>
          </Text>
        </Stack>
      </form>
    </PublicFrame>
  );
}

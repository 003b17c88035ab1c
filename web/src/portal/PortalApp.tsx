/**
 * The client portal at the site root. Signed out: registration (`/register?ref=CODE` from a partner's link), the
 * email verification link (`/verify-email?token=…`) and sign-in (any other path, which opens once signed in, so a
 * link or the payment page's return lands where it pointed). Signed in: overview, accounts, deposits (the PSP's
 * payment page returns to `/deposits/:id`), withdrawals, transfers, money movements with their timelines, trading
 * history, documents, profile and two-factor.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Navigate, Route, Routes, useNavigate } from 'react-router';
import { ApiError, api, errorMessage } from '../api.ts';
import { ErrorAlert, Loading } from '../ui/components.tsx';
import { type NavItem, Shell } from '../ui/Shell.tsx';
import { type ClientAuth, ClientAuthContext, type ClientMe } from './auth.tsx';
import { AccountsPage } from './pages/Accounts.tsx';
import { DepositPage, DepositReturnPage } from './pages/Deposit.tsx';
import { DocumentsPage } from './pages/Documents.tsx';
import { HistoryPage } from './pages/History.tsx';
import { MovementsPage } from './pages/Movements.tsx';
import { OverviewPage } from './pages/Overview.tsx';
import { ProfilePage } from './pages/Profile.tsx';
import { RegisterPage } from './pages/Register.tsx';
import { SignInPage } from './pages/SignIn.tsx';
import { TransferPage } from './pages/Transfer.tsx';
import { VerifyEmailPage } from './pages/VerifyEmail.tsx';
import { WithdrawPage } from './pages/Withdraw.tsx';

const nav: NavItem[] = [
  { to: '/', label: 'Overview' },
  { to: '/accounts', label: 'Trading accounts', prefix: true },
  { to: '/deposit', label: 'Deposit' },
  { to: '/withdraw', label: 'Withdraw' },
  { to: '/transfer', label: 'Transfer' },
  { to: '/movements', label: 'Money movements', prefix: true },
  { to: '/history', label: 'Trading history' },
  { to: '/documents', label: 'Documents' },
  { to: '/profile', label: 'Profile & security' },
];

export function PortalApp() {
  const [me, setMe] = useState<ClientMe | null>();
  const [error, setError] = useState<string>();
  const navigate = useNavigate();

  const load = useCallback(async () => {
    try {
      setMe(await api.get<ClientMe>('/api/portal/me'));
      setError(undefined);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        setMe(null);
        setError(undefined);
      } else setError(errorMessage(err));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const auth = useMemo<ClientAuth | null>(
    () =>
      me
        ? {
            me,
            reload: load,
            signOut: async () => {
              await api.post('/api/portal/auth/logout').catch(() => undefined);
              setMe(null);
              navigate('/');
            },
          }
        : null,
    [me, load, navigate],
  );

  if (error) return <ErrorAlert error={error} onRetry={load} />;
  if (me === undefined) return <Loading />;

  return (
    <Routes>
      <Route path="register" element={auth ? <Navigate to="/" replace /> : <RegisterPage onSignedIn={load} />} />
      <Route path="verify-email" element={<VerifyEmailPage signedIn={auth !== null} onVerified={load} />} />
      <Route
        path="*"
        element={
          auth ? (
            <ClientAuthContext.Provider value={auth}>
              <Shell
                area="Client portal"
                user={`${auth.me.client.name} · ${auth.me.client.email}`}
                nav={nav}
                onSignOut={auth.signOut}
              >
                <Routes>
                  <Route index element={<OverviewPage />} />
                  <Route path="accounts/*" element={<AccountsPage />} />
                  <Route path="deposit" element={<DepositPage />} />
                  <Route path="deposits/:id" element={<DepositReturnPage />} />
                  <Route path="withdraw" element={<WithdrawPage />} />
                  <Route path="transfer" element={<TransferPage />} />
                  <Route path="movements/*" element={<MovementsPage />} />
                  <Route path="history" element={<HistoryPage />} />
                  <Route path="documents" element={<DocumentsPage />} />
                  <Route path="profile" element={<ProfilePage />} />
                  <Route path="login" element={<Navigate to="/" replace />} />
                  <Route path="*" element={<Navigate to="/" replace />} />
                </Routes>
              </Shell>
            </ClientAuthContext.Provider>
          ) : (
            <SignInPage onSignedIn={load} />
          )
        }
      />
    </Routes>
  );
}

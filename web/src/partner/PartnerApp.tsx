/**
 * The partner (IB) area at /partner: sign-in, then the dashboard with the referral link, referred clients, volume
 * and commission with charts, statements per period (with a printable view), payouts and the password. Paths here
 * are relative to where main.tsx mounts the area.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Navigate, Route, Routes, useNavigate } from 'react-router';
import { ApiError, api, errorMessage } from '../api.ts';
import { ErrorAlert, Loading } from '../ui/components.tsx';
import { Shell } from '../ui/Shell.tsx';
import { type PartnerAuth, PartnerAuthContext, type PartnerMe } from './auth.tsx';
import { ClientsScreen } from './Clients.tsx';
import { CommissionScreen } from './Commission.tsx';
import { DashboardScreen } from './Dashboard.tsx';
import { PartnerLogin } from './Login.tsx';
import { PasswordScreen } from './Password.tsx';
import { PayoutsScreen } from './Payouts.tsx';
import { PrintableStatement, StatementScreen, StatementsScreen } from './Statements.tsx';

const nav = [
  { to: '/partner/dashboard', label: 'Dashboard' },
  { to: '/partner/clients', label: 'Referred clients' },
  { to: '/partner/commission', label: 'Commission' },
  { to: '/partner/statements', label: 'Statements', prefix: true },
  { to: '/partner/payouts', label: 'Payouts' },
  { to: '/partner/password', label: 'Password' },
];

export function PartnerApp() {
  const [me, setMe] = useState<PartnerMe | null>();
  const [error, setError] = useState<string>();
  const navigate = useNavigate();

  const load = useCallback(async () => {
    try {
      const { partner } = await api.get<{ partner: PartnerMe }>('/api/partner/me');
      setMe(partner);
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

  const auth = useMemo<PartnerAuth | null>(
    () =>
      me
        ? {
            me,
            signOut: async () => {
              await api.post('/api/partner/auth/logout').catch(() => undefined);
              setMe(null);
              navigate('/partner');
            },
          }
        : null,
    [me, navigate],
  );

  if (error) return <ErrorAlert error={error} onRetry={load} />;
  if (me === undefined) return <Loading />;
  if (!auth) return <PartnerLogin onSignedIn={setMe} />;

  return (
    <PartnerAuthContext.Provider value={auth}>
      <Routes>
        {/* A document to print: no navigation around it. */}
        <Route path="statements/print" element={<PrintableStatement />} />
        <Route
          path="*"
          element={
            <Shell area="Partner portal" user={`${auth.me.name} · ${auth.me.email}`} nav={nav} onSignOut={auth.signOut}>
              <Routes>
                <Route path="dashboard" element={<DashboardScreen />} />
                <Route path="clients" element={<ClientsScreen />} />
                <Route path="commission" element={<CommissionScreen />} />
                <Route path="statements" element={<StatementsScreen />} />
                <Route path="statements/view" element={<StatementScreen />} />
                <Route path="payouts" element={<PayoutsScreen />} />
                <Route path="password" element={<PasswordScreen />} />
                <Route path="*" element={<Navigate to="/partner/dashboard" replace />} />
              </Routes>
            </Shell>
          }
        />
      </Routes>
    </PartnerAuthContext.Provider>
  );
}

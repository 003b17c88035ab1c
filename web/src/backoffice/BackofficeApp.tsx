/**
 * The back office at /backoffice: staff sign-in (with two-factor for the roles that need it), then the screens this
 * person's permissions allow. Each screen owns its sub-routes (`clients/*` → list and `clients/:id`).
 */
import { type ReactNode, useCallback, useEffect, useMemo, useState } from 'react';
import { Navigate, Route, Routes, useNavigate } from 'react-router';
import { ApiError, api, errorMessage } from '../api.ts';
import { ErrorAlert, Loading } from '../ui/components.tsx';
import { type NavItem, Shell } from '../ui/Shell.tsx';
import { type StaffAuth, StaffAuthContext, type StaffMe } from './auth.tsx';
import { StaffLogin } from './Login.tsx';
import { AlertsPage } from './pages/Alerts.tsx';
import { AuditPage } from './pages/Audit.tsx';
import { ClientsPage } from './pages/Clients.tsx';
import { CommissionPlansPage } from './pages/CommissionPlans.tsx';
import { DashboardPage } from './pages/Dashboard.tsx';
import { ExternalChangesPage } from './pages/ExternalChanges.tsx';
import { GoLivePage } from './pages/GoLive.tsx';
import { KycQueuePage } from './pages/KycQueue.tsx';
import { MovementsPage } from './pages/Movements.tsx';
import { OperationsPage } from './pages/Operations.tsx';
import { PartnersPage } from './pages/Partners.tsx';
import { ProductsPage } from './pages/Products.tsx';
import { ReconciliationPage } from './pages/Reconciliation.tsx';
import { ServersPage } from './pages/Servers.tsx';
import { StaffPage } from './pages/Staff.tsx';

interface Screen {
  path: string;
  label: string;
  /** Shown when the staff member holds this permission. */
  permission: string | null;
  element: ReactNode;
}

const screens: Screen[] = [
  { path: 'dashboard', label: 'Dashboard', permission: null, element: <DashboardPage /> },
  { path: 'clients', label: 'Clients', permission: 'clients.read', element: <ClientsPage /> },
  { path: 'kyc', label: 'KYC queue', permission: 'kyc.read', element: <KycQueuePage /> },
  { path: 'movements', label: 'Deposits & withdrawals', permission: 'funding.read', element: <MovementsPage /> },
  { path: 'operations', label: 'Operations', permission: 'operations.read', element: <OperationsPage /> },
  { path: 'alerts', label: 'Alerts', permission: 'alerts.read', element: <AlertsPage /> },
  { path: 'reconciliation', label: 'Reconciliation', permission: 'recon.read', element: <ReconciliationPage /> },
  {
    path: 'external-changes',
    label: 'External changes',
    permission: 'external_changes.read',
    element: <ExternalChangesPage />,
  },
  { path: 'partners', label: 'Partners', permission: 'partners.read', element: <PartnersPage /> },
  {
    path: 'commission-plans',
    label: 'Commission plans',
    permission: 'commissions.read',
    element: <CommissionPlansPage />,
  },
  { path: 'servers', label: 'Servers', permission: 'servers.read', element: <ServersPage /> },
  { path: 'products', label: 'Products', permission: 'products.read', element: <ProductsPage /> },
  { path: 'staff', label: 'Staff & roles', permission: 'staff.read', element: <StaffPage /> },
  { path: 'audit', label: 'Audit trail', permission: 'audit.read', element: <AuditPage /> },
  { path: 'go-live', label: 'Go-live checklist', permission: 'servers.read', element: <GoLivePage /> },
];

export function BackofficeApp() {
  const [me, setMe] = useState<StaffMe | null>();
  const [error, setError] = useState<string>();
  const navigate = useNavigate();

  const load = useCallback(async () => {
    try {
      const current = await api.get<StaffMe>('/api/backoffice/auth/me');
      setMe(current.twoFactorPassed ? current : null);
      setError(undefined);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) setMe(null);
      else setError(errorMessage(err));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const auth = useMemo<StaffAuth | null>(
    () =>
      me
        ? {
            me,
            can: (permission) => me.permissions.includes(permission),
            signOut: async () => {
              await api.post('/api/backoffice/auth/logout').catch(() => undefined);
              setMe(null);
              navigate('/backoffice');
            },
          }
        : null,
    [me, navigate],
  );

  if (error) return <ErrorAlert error={error} onRetry={load} />;
  if (me === undefined) return <Loading />;
  if (!auth) return <StaffLogin onSignedIn={load} />;

  const allowed = screens.filter((s) => s.permission === null || auth.can(s.permission));
  const nav: NavItem[] = allowed.map((s) => ({ to: `/backoffice/${s.path}`, label: s.label, prefix: true }));
  return (
    <StaffAuthContext.Provider value={auth}>
      <Shell
        area="Back office"
        user={`${auth.me.staff.name} · ${auth.me.staff.roles.join(', ')}`}
        nav={nav}
        onSignOut={auth.signOut}
      >
        <Routes>
          {allowed.map((s) => (
            <Route key={s.path} path={`${s.path}/*`} element={s.element} />
          ))}
          <Route path="*" element={<Navigate to="/backoffice/dashboard" replace />} />
        </Routes>
      </Shell>
    </StaffAuthContext.Provider>
  );
}

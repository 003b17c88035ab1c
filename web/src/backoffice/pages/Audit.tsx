/** Back office: Audit trail. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function AuditPage() {
  return (
    <>
      <PageTitle>Audit trail</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}

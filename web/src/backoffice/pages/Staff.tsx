/** Back office: Staff and roles. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function StaffPage() {
  return (
    <>
      <PageTitle>Staff and roles</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}

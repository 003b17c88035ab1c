/** Back office: External changes. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function ExternalChangesPage() {
  return (
    <>
      <PageTitle>External changes</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}

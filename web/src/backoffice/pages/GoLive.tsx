/** Back office: Go-live checklist. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function GoLivePage() {
  return (
    <>
      <PageTitle>Go-live checklist</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}

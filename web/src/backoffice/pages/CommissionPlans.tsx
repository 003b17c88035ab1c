/** Back office: commission plans and their versions. */
import { Route, Routes } from 'react-router';
import { NewPlan, PlanDetail, PlanList } from '../partners/Plans.tsx';

export function CommissionPlansPage() {
  return (
    <Routes>
      <Route index element={<PlanList />} />
      <Route path="new" element={<NewPlan />} />
      <Route path=":id" element={<PlanDetail />} />
    </Routes>
  );
}

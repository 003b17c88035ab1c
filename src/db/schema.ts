/**
 * The Drizzle schema: the single source of the database's shape. `npm run db:generate` turns changes here into a new
 * SQL migration under `src/db/migrations`, which runs unchanged on PostgreSQL and on embedded PGlite.
 */
import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Facts about this installation (its id, when the schema was created). */
export const installation = pgTable('installation', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

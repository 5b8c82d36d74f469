-- Dry runs write nothing: every shape works in a read-only transaction (and so
-- on a hot standby, see test/standby); a real call there is refused up front.
\set SHOW_CONTEXT never
CREATE SCHEMA ro;
SET search_path = ro, public;
CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE CASCADE);
CREATE TABLE tree (id int PRIMARY KEY, up int REFERENCES tree ON DELETE CASCADE);
CREATE TABLE x (id int PRIMARY KEY, y_id int);
CREATE TABLE y (id int PRIMARY KEY, x_id int REFERENCES x ON DELETE CASCADE);
ALTER TABLE x ADD FOREIGN KEY (y_id) REFERENCES y ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE keep (id int PRIMARY KEY, a_id int REFERENCES a);
INSERT INTO a SELECT generate_series(1, 1500);
INSERT INTO b SELECT g, g FROM generate_series(1, 1500) g;
INSERT INTO tree SELECT g, nullif(g - 1, 0) FROM generate_series(1, 50) g;
BEGIN;
INSERT INTO x VALUES (1, 1), (2, 2);
INSERT INTO y VALUES (1, 2), (2, 1);
COMMIT;
INSERT INTO keep VALUES (1, 1500);

BEGIN READ ONLY;
-- memory mode, more keys than memory mode holds, a self-reference, a cycle
SELECT cascade_delete('a', 1, dry_run => true);
SELECT cascade_delete_where('a', 'id > 100', dry_run => true);
SELECT cascade_delete('tree', 40, dry_run => true);
SELECT cascade_delete('x', 1, dry_run => true);
SELECT cascade_delete('a', 1);
ROLLBACK;
BEGIN READ ONLY;
SELECT cascade_delete_many('tree', '{1}', dry_run => false);
ROLLBACK;
SET default_transaction_read_only = on;
SELECT cascade_delete('tree', 1, dry_run => true);
RESET default_transaction_read_only;
-- no key table was created by any of them
SELECT count(*) AS key_tables FROM pg_class WHERE relname LIKE 'cascade\_delete\_%' AND relpersistence = 't';

-- A dry run predicts a SET DEFAULT that points at a deleted (or missing) row:
-- the real call, like PostgreSQL's DELETE, fails 23503.
CREATE TABLE sp (id int PRIMARY KEY);
CREATE TABLE sc (id int PRIMARY KEY, p_id int DEFAULT 1 REFERENCES sp ON DELETE SET DEFAULT);
CREATE TABLE sd (id int PRIMARY KEY, p_id int DEFAULT 9 REFERENCES sp ON DELETE SET DEFAULT);
INSERT INTO sp VALUES (1), (2), (3);
INSERT INTO sc VALUES (10, 1), (11, 2);
INSERT INTO sd VALUES (20, 3);
SELECT cascade_delete('sp', 1, dry_run => true);
SELECT cascade_delete('sp', 1);
SELECT cascade_delete('sp', 2, dry_run => true);
SELECT cascade_delete('sp', 3, dry_run => true);
SELECT cascade_delete('sp', 3);
-- SET with a value on a real key
SELECT cascade_delete_set_policy('sc', '{p_id}', 'SET', value => '2');
SELECT cascade_delete('sp', 2, dry_run => true);
SELECT cascade_delete('sp', 1, dry_run => true);
-- a NULL written into a NOT NULL column: 23502
CREATE TABLE nn (id int PRIMARY KEY, p_id int NOT NULL REFERENCES sp ON DELETE SET NULL);
INSERT INTO nn VALUES (30, 2);
SELECT cascade_delete('sp', 2, dry_run => true);
SELECT cascade_delete('sp', 2);

SET client_min_messages = warning;
DROP SCHEMA ro CASCADE;

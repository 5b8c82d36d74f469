-- Setting, reading, replacing and dropping policies; a policy overrides the
-- catalog's action; policies of dropped tables are removed.
\set SHOW_CONTEXT never
CREATE SCHEMA pol;
SET search_path = pol, public;
CREATE TABLE region (code text, num int, PRIMARY KEY (code, num));
CREATE TABLE store (id int PRIMARY KEY, region_code text, region_num int,
                    FOREIGN KEY (region_code, region_num) REFERENCES region ON DELETE CASCADE);
CREATE TABLE legacy_order (id int PRIMARY KEY, store int);   -- no constraint (Rails style)
INSERT INTO region VALUES ('eu', 1), ('eu', 2);
INSERT INTO store VALUES (1, 'eu', 1), (2, 'eu', 2);
INSERT INTO legacy_order VALUES (1, 1), (2, 1), (3, 2);

-- columns given in another order are stored in the constraint's order
SELECT cascade_delete_set_policy('store', '{region_num,region_code}', 'PROTECT');
SELECT cascade_delete_set_policy('legacy_order', '{store}', 'CASCADE', parent => 'store');
SELECT child, columns, action, value, parent, parent_columns FROM cascade_delete_policy ORDER BY child::text;

-- the PROTECT policy overrides ON DELETE CASCADE
SELECT cascade_delete('region', ARRAY['eu', '1']);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- setting it again replaces it (one policy per child and columns)
SELECT cascade_delete_set_policy('store', '{region_code,region_num}', 'cascade');
SELECT count(*) FROM cascade_delete_policy WHERE child = 'store'::regclass;
-- the next call obeys the new policy
SELECT cascade_delete('region', ARRAY['eu', '1']);
-- dropping a policy returns whether one existed; the catalog action applies again
SELECT cascade_delete_drop_policy('store', '{region_num,region_code}');
SELECT cascade_delete_drop_policy('store', '{region_num,region_code}');
SELECT cascade_delete('region', ARRAY['eu', '2'], dry_run => true) -> 'deleted';

-- dropping a table drops its policies (as child or as parent)
DROP TABLE legacy_order;
SELECT count(*) AS policies_left FROM cascade_delete_policy;

-- lock_policy_tables: a table reached through a policy-only foreign key is
-- locked against writers until the transaction ends; real foreign keys' tables
-- are not. Off by default.
CREATE TABLE shop (id int PRIMARY KEY);
CREATE TABLE visit (id int PRIMARY KEY, shop_id int);                 -- policy only
CREATE TABLE till (id int PRIMARY KEY, shop_id int REFERENCES shop ON DELETE CASCADE);
SELECT cascade_delete_set_policy('visit', '{shop_id}', 'CASCADE', parent => 'shop');
INSERT INTO shop VALUES (1);
INSERT INTO visit VALUES (1, 1);
INSERT INTO till VALUES (1, 1);
BEGIN;
SELECT cascade_delete('shop', 1) -> 'total' AS total;
SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid() AND c.relname IN ('visit', 'till') AND l.mode LIKE 'Share%';
ROLLBACK;
BEGIN;
SET LOCAL cascade_delete.lock_policy_tables = on;
SELECT cascade_delete('shop', 1) -> 'total' AS total;
SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid() AND c.relname IN ('visit', 'till') AND l.mode LIKE 'Share%';
ROLLBACK;

SET client_min_messages = warning;
DROP SCHEMA pol CASCADE;

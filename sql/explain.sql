-- cascade_delete_explain: the cascade as a tree of paths, with counts, sample
-- keys and blockers; cascade_delete_graph: the edges as DOT and Mermaid.
\set SHOW_CONTEXT never
CREATE SCHEMA ex;
SET search_path = ex, public;
CREATE TABLE customer (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer ON DELETE CASCADE);
CREATE TABLE line (id int PRIMARY KEY, order_id int NOT NULL REFERENCES orders ON DELETE CASCADE);
CREATE TABLE invoice (id int PRIMARY KEY, customer_id int);
CREATE TABLE note (id int PRIMARY KEY, order_id int REFERENCES orders);
CREATE TABLE audit (id int PRIMARY KEY, customer_id int);
-- a diamond: a shipment references an order and the customer; both cascade
CREATE TABLE shipment (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE CASCADE,
                       customer_id int REFERENCES customer ON DELETE CASCADE);
-- RESTRICT: a refund blocks unless its order goes too
CREATE TABLE refund (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE RESTRICT);
SELECT cascade_delete_set_policy('invoice', '{customer_id}', 'PROTECT', parent => 'customer');
SELECT cascade_delete_set_policy('note', '{order_id}', 'SET_NULL');
SELECT cascade_delete_set_policy('audit', '{customer_id}', 'DO_NOTHING', parent => 'customer');
INSERT INTO customer VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
INSERT INTO orders VALUES (10, 1), (11, 1), (12, 1), (20, 2), (30, 3);
INSERT INTO line SELECT g, 10 + g % 3 FROM generate_series(100, 107) g;
INSERT INTO line VALUES (200, 20);
INSERT INTO invoice VALUES (7, 1), (9, 1), (8, 3);
INSERT INTO note VALUES (1, 10), (2, 20);
INSERT INTO audit VALUES (1, 1);
INSERT INTO shipment VALUES (1, 10, 1), (2, 11, 1), (3, 20, 2);
INSERT INTO refund VALUES (1, 30);

-- Customer 1: every kind of node. Shipments 1 and 2 are reached twice (through
-- orders and directly): each path counts them, table_rows once.
SELECT tree FROM cascade_delete_explain('customer', 1);
SELECT path, parent_path, depth, table_name, via, columns, action, kind, rows, table_rows, sample_keys, note
FROM cascade_delete_explain('customer', 1, samples => 2);
-- table_rows is what the dry run reports, per table.
SELECT e.table_name::text, e.table_rows, (d -> 'deleted' ->> ('ex.' || e.table_name::text))::bigint AS dry_run
FROM cascade_delete_explain('customer', 1) e, cascade_delete('customer', 1, dry_run => true) d
WHERE e.action = 'CASCADE' OR e.kind = 'roots' ORDER BY e.path;
-- Nothing was deleted or changed.
SELECT (SELECT count(*) FROM customer) AS customers, (SELECT count(*) FROM line) AS lines,
       (SELECT count(*) FROM note WHERE order_id IS NULL) AS notes_set_null;

-- RESTRICT: refund 1 blocks customer 3's delete (its order goes, the refund
-- would not); PROTECT of invoice 8 too. The dry run's blockers, per path.
SELECT tree FROM cascade_delete_explain('customer', 3);
SELECT jsonb_array_length(cascade_delete('customer', 3, dry_run => true) -> 'blocked') AS dry_run_blockers;

-- _many, _where, a key as text, and keys that match nothing.
SELECT tree FROM cascade_delete_explain_many('customer', ARRAY[2, 99]);
SELECT tree FROM cascade_delete_explain_where('orders', 'id >= 20', samples => 0);
SELECT tree FROM cascade_delete_explain('customer', '2');
SELECT tree FROM cascade_delete_explain('customer', 99);

-- Cycles are cut and marked: employees reporting to employees, and two
-- tables referencing each other.
CREATE TABLE emp (id int PRIMARY KEY, boss int REFERENCES emp ON DELETE CASCADE);
INSERT INTO emp VALUES (1, NULL), (2, 1), (3, 1), (4, 2), (5, 4);
SELECT tree FROM cascade_delete_explain('emp', 1);
CREATE TABLE ping (id int PRIMARY KEY, pong_id int);
CREATE TABLE pong (id int PRIMARY KEY, ping_id int REFERENCES ping ON DELETE CASCADE);
ALTER TABLE ping ADD FOREIGN KEY (pong_id) REFERENCES pong ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
BEGIN;
INSERT INTO ping VALUES (1, 1);
INSERT INTO pong VALUES (1, 1), (2, 1);
COMMIT;
SELECT tree FROM cascade_delete_explain('ping', 1);

-- max_paths: the rest of the tree is cut, and the last row says so.
SELECT path, table_name, kind, note, tree FROM cascade_delete_explain('customer', 1, max_paths => 3);

-- Key tables instead of memory mode: the same tree.
SET cascade_delete.memory_keys = 0;
SELECT tree FROM cascade_delete_explain('customer', 1, samples => 2);
RESET cascade_delete.memory_keys;

-- No trigger fires: nothing is deleted and rolled back.
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'trigger fired on %', TG_TABLE_NAME; END $$;
CREATE TRIGGER refuse BEFORE DELETE OR UPDATE ON line FOR EACH ROW EXECUTE FUNCTION refuse();
CREATE TRIGGER refuse BEFORE DELETE OR UPDATE ON note FOR EACH ROW EXECUTE FUNCTION refuse();
SELECT count(*) FROM cascade_delete_explain('customer', 1);
DROP TRIGGER refuse ON line;
DROP TRIGGER refuse ON note;

-- A partition tree: a delete from the partitioned table reaches a key to one
-- of its partitions through a partition edge.
CREATE TABLE ev (id int PRIMARY KEY, kind text) PARTITION BY RANGE (id);
CREATE TABLE ev_low PARTITION OF ev FOR VALUES FROM (0) TO (100);
CREATE TABLE ev_high PARTITION OF ev FOR VALUES FROM (100) TO (200);
CREATE TABLE ev_ref (id int PRIMARY KEY, ev_id int REFERENCES ev_low ON DELETE CASCADE);
INSERT INTO ev VALUES (1, 'a'), (150, 'b');
INSERT INTO ev_ref VALUES (1, 1), (2, 1);
SELECT tree FROM cascade_delete_explain_where('ev', 'true');

-- Key sets larger than work_mem spill to temporary files, which the dry run
-- and the explain close before they return (no "temporary file leak" warning
-- at commit).
CREATE TABLE big (id int PRIMARY KEY, customer_id int REFERENCES customer ON DELETE CASCADE);
CREATE TABLE big_child (id int PRIMARY KEY, big_id int REFERENCES big ON DELETE CASCADE);
INSERT INTO big SELECT g, 2 FROM generate_series(1, 20000) g;
SET work_mem = '64kB';
SET cascade_delete.memory_keys = 0;
SELECT cascade_delete('customer', 2, dry_run => true) -> 'deleted';
SELECT tree FROM cascade_delete_explain('customer', 2, samples => 1) WHERE depth <= 1;
RESET work_mem;
RESET cascade_delete.memory_keys;
DROP TABLE big_child, big;

-- Read-only: no row written, works in a read-only transaction (and so on a
-- hot standby, see test/replica).
BEGIN READ ONLY;
SELECT count(*) FROM cascade_delete_explain('customer', 1);
ROLLBACK;

-- Bad input.
SELECT * FROM cascade_delete_explain('customer', 1, samples => -1);
SELECT * FROM cascade_delete_explain('customer', 1, max_paths => 0);
SELECT * FROM cascade_delete_explain('customer', 1, samples => NULL);
SELECT * FROM cascade_delete_explain('nosuchtable', 1);
SELECT * FROM cascade_delete_explain('customer', 'x');
SELECT * FROM cascade_delete_explain_where('customer', 'id = 1; DROP TABLE line');
SELECT cascade_delete_graph('customer', 'svg');

-- Row-level security and privileges: the explain sees what the caller sees.
CREATE ROLE explain_reader;
GRANT USAGE ON SCHEMA ex TO explain_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA ex TO explain_reader;
REVOKE SELECT ON invoice FROM explain_reader;
ALTER TABLE line ENABLE ROW LEVEL SECURITY;
CREATE POLICY even_lines ON line FOR SELECT USING (id % 2 = 0);
SET ROLE explain_reader;
SELECT tree FROM cascade_delete_explain('orders', 10);
SELECT tree FROM cascade_delete_explain('customer', 1);
RESET ROLE;
ALTER TABLE line DISABLE ROW LEVEL SECURITY;
DROP POLICY even_lines ON line;
REVOKE ALL ON ALL TABLES IN SCHEMA ex FROM explain_reader;
REVOKE USAGE ON SCHEMA ex FROM explain_reader;
DROP ROLE explain_reader;

-- The graph: from a table, and all of it, as DOT and as Mermaid with a dry
-- run's counts.
SELECT cascade_delete_graph('orders');
-- A table in no foreign key or policy: itself alone.
CREATE TABLE lonely (id int PRIMARY KEY);
SELECT cascade_delete_graph('lonely', 'mermaid');
DROP TABLE lonely;
SELECT cascade_delete_graph('customer', 'mermaid', cascade_delete('customer', 2, dry_run => true));
SELECT g LIKE 'digraph cascade_delete {%' AS dot, g LIKE '%label="ex.pong"%' AS has_pong,
       g LIKE '%label="ex.audit"%' AS has_audit
FROM cascade_delete_graph() g;

-- cascade_delete_keys: the rows the delete would delete, per table, children
-- first; as many per table as the dry run counts; only the tables asked for.
-- (Customer 1 is protected by its invoices: below.)
SELECT table_name, key, delete_order FROM cascade_delete_keys('customer', 2) ORDER BY delete_order, table_name::text, key::int;
SELECT k.table_name, count(*), (d -> 'deleted' ->> ('ex.' || k.table_name::text))::bigint AS dry_run
FROM cascade_delete_keys('customer', 2) k, cascade_delete('customer', 2, dry_run => true) d
GROUP BY k.table_name, d ORDER BY k.table_name::text;
SELECT table_name, key FROM cascade_delete_keys('customer', 2, ARRAY['line', 'customer']::regclass[]) ORDER BY table_name::text, key;
SELECT table_name, key FROM cascade_delete_keys_many('customer', ARRAY[2], ARRAY['shipment']::regclass[]);
SELECT table_name, key FROM cascade_delete_keys_many('customer', '{2}', ARRAY['orders']::regclass[]);
SELECT table_name, key FROM cascade_delete_keys('customer', '2', ARRAY['orders']::regclass[]);
-- A self-reference: every row of the subtree, once.
SELECT table_name, key FROM cascade_delete_keys('emp', 1) ORDER BY key::int;
-- Key tables give the same keys.
SET cascade_delete.memory_keys = 0;
SELECT table_name, key, delete_order FROM cascade_delete_keys('customer', 2) ORDER BY delete_order, table_name::text, key::int;
RESET cascade_delete.memory_keys;
-- Refused as the delete would be (customer 1: invoices PROTECT it), and deletes nothing.
SELECT * FROM cascade_delete_keys('customer', 1);
SELECT * FROM cascade_delete_keys('customer', 1, ARRAY[NULL]::regclass[]);
-- NULL: every table; an empty array: none.
SELECT count(*) FROM cascade_delete_keys('customer', 2, '{}'::regclass[]);
SELECT count(*) FROM cascade_delete_keys('customer', 2, NULL);
SELECT count(*) FROM customer;

DROP SCHEMA ex CASCADE;

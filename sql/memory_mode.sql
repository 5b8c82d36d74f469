-- Small cascades without cycles keep their keys in memory (arrays passed to
-- the statements as parameters) and create no key tables; a cascade with more
-- keys per table than cascade_delete.memory_keys (or batch_size) starts over
-- with key tables. Both ways give the same result.
LOAD 'cascade_delete';
SELECT boot_val, min_val, max_val FROM pg_settings WHERE name = 'cascade_delete.memory_keys';
SET cascade_delete.memory_keys = -1;
-- the default, also when the suite runs with memory_keys = 0 for the session
SET cascade_delete.memory_keys = 1000;

CREATE TABLE mm_root (id int PRIMARY KEY);
CREATE TABLE mm_mid (id int PRIMARY KEY, root_id int REFERENCES mm_root ON DELETE CASCADE);
CREATE TABLE mm_leaf (id int PRIMARY KEY, mid_id int REFERENCES mm_mid ON DELETE CASCADE);
-- a composite key, and a leaf referencing it
CREATE TABLE mm_comp (a int, b text, root_id int REFERENCES mm_root ON DELETE CASCADE, PRIMARY KEY (a, b));
CREATE TABLE mm_comp_leaf (id int PRIMARY KEY, a int, b text,
                           FOREIGN KEY (a, b) REFERENCES mm_comp ON DELETE CASCADE);
-- a bigint column referencing an int key
CREATE TABLE mm_wide (id int PRIMARY KEY, root_id bigint REFERENCES mm_root ON DELETE CASCADE);
-- SET NULL, and a guard that blocks (NO ACTION)
CREATE TABLE mm_note (id int PRIMARY KEY, mid_id int REFERENCES mm_mid ON DELETE SET NULL);
CREATE TABLE mm_guard (id int PRIMARY KEY, root_id int REFERENCES mm_root);
INSERT INTO mm_root VALUES (1), (2), (3);
-- per root r: mids 10r+1, 10r+2; leaves 100r+1..100r+4; comps (r, 'x'), (r, 'y');
-- comp leaves 10r+1, 10r+2; wide 10r+1, 10r+2; notes 10r+1, 10r+2 (one per mid)
INSERT INTO mm_mid SELECT 10 * r + m, r FROM generate_series(1, 3) r, generate_series(1, 2) m;
INSERT INTO mm_leaf SELECT 100 * r + l, 10 * r + 1 + (l - 1) / 2 FROM generate_series(1, 3) r, generate_series(1, 4) l;
INSERT INTO mm_comp SELECT r, b, r FROM generate_series(1, 3) r, unnest(ARRAY['x', 'y']) b;
INSERT INTO mm_comp_leaf SELECT 10 * r + i, r, CASE i WHEN 1 THEN 'x' ELSE 'y' END
FROM generate_series(1, 3) r, generate_series(1, 2) i;
INSERT INTO mm_wide SELECT 10 * r + i, r FROM generate_series(1, 3) r, generate_series(1, 2) i;
INSERT INTO mm_note SELECT 10 * r + i, 10 * r + i FROM generate_series(1, 3) r, generate_series(1, 2) i;
INSERT INTO mm_guard VALUES (1, 3);

CREATE FUNCTION mm_state() RETURNS text LANGUAGE sql AS $$
SELECT concat_ws(' | ',
    'root ' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM mm_root),
    'mid ' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM mm_mid),
    'leaf ' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM mm_leaf),
    'comp ' || (SELECT string_agg(a || b, ',' ORDER BY a, b) FROM mm_comp),
    'comp_leaf ' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM mm_comp_leaf),
    'wide ' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM mm_wide),
    'note ' || (SELECT string_agg(id || ':' || coalesce(mid_id::text, 'null'), ',' ORDER BY id) FROM mm_note))
$$;
-- key tables of this session, and the rows this transaction wrote to them
CREATE FUNCTION mm_key_tables() RETURNS bigint LANGUAGE sql AS $$
SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relname LIKE 'cascade\_delete\_%'
$$;
CREATE FUNCTION mm_key_rows() RETURNS bigint LANGUAGE sql AS $$
SELECT coalesce(sum(s.n_tup_ins), 0) FROM pg_stat_xact_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE c.relnamespace = pg_my_temp_schema() AND c.relname LIKE 'cascade\_delete\_%'
$$;

SELECT mm_state();

-- Root 1 deletes 1 root, 2 mids, 4 leaves, 2 comps, 2 comp leaves, 2 wide rows
-- and sets 2 notes' mid_id to NULL. The tables whose keys are needed (root,
-- mid, comp) have 2 keys or fewer; the leaves are deleted straight from their
-- parents' keys. In memory (the default, and a limit of exactly 2): no key table.
BEGIN;
SELECT cascade_delete('mm_root', 1);
SELECT mm_state();
SELECT mm_key_tables();
ROLLBACK;
BEGIN;
SET LOCAL cascade_delete.memory_keys = 2;
SELECT cascade_delete('mm_root', 1);
SELECT mm_state();
SELECT mm_key_tables();
ROLLBACK;
-- Many small calls leave the catalog as it was.
SELECT pg_relation_size('pg_class') AS pg_class_size \gset
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        BEGIN
            PERFORM cascade_delete('mm_root', 1 + i % 2);
            RAISE EXCEPTION 'undo';
        EXCEPTION WHEN raise_exception THEN NULL;
        END;
    END LOOP;
END $$;
SELECT pg_relation_size('pg_class') = :pg_class_size AS pg_class_unchanged, mm_key_tables();

-- A limit of 1: the 2 mids do not fit, the call starts over with key tables;
-- the same result.
BEGIN;
SET LOCAL cascade_delete.memory_keys = 1;
SELECT cascade_delete('mm_root', 1);
SELECT mm_state();
SELECT mm_key_tables() > 0 AS key_tables, mm_key_rows();
ROLLBACK;
-- In memory again (the key tables stay, empty, for later calls)
BEGIN;
SELECT cascade_delete('mm_root', 2);
SELECT mm_state();
SELECT mm_key_rows();
ROLLBACK;
-- batch_size limits it too; and 0 turns memory mode off
BEGIN;
SET LOCAL cascade_delete.batch_size = 1;
SELECT cascade_delete('mm_root', 2);
SELECT mm_state();
SELECT mm_key_rows();
ROLLBACK;
BEGIN;
SET LOCAL cascade_delete.memory_keys = 0;
SELECT cascade_delete('mm_root', 2);
SELECT mm_state();
SELECT mm_key_rows();
ROLLBACK;

-- _many (a key twice, a key that matches nothing) and _where, in memory
BEGIN;
SELECT cascade_delete_many('mm_root', ARRAY[1, 2, 2, 99]);
SELECT mm_state();
ROLLBACK;
BEGIN;
SELECT cascade_delete_where('mm_root', 'id IN (SELECT root_id FROM mm_mid WHERE id = 21)');
SELECT mm_state();
ROLLBACK;

-- Root 3 is blocked by its guard row, in memory and with key tables; the dry
-- runs name it.
SELECT cascade_delete('mm_root', 3);
SELECT cascade_delete('mm_root', 3, dry_run => true);
SET cascade_delete.memory_keys = 0;
SELECT cascade_delete('mm_root', 3);
SELECT cascade_delete('mm_root', 3, dry_run => true);
SET cascade_delete.memory_keys = 1000;

-- A table with a trigger of its own: the deletes run one statement per table,
-- children first (as with key tables), so that an AFTER trigger on mm_mid,
-- fired at the end of its table's statement, still finds the root row (in one
-- statement for all tables it would fire after the root row was gone).
CREATE TABLE mm_log (mid int, root_there boolean);
CREATE FUNCTION mm_log_mid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mm_log VALUES (OLD.id, EXISTS (SELECT FROM mm_root WHERE id = OLD.root_id));
    RETURN OLD;
END $$;
CREATE TRIGGER mm_log_mid AFTER DELETE ON mm_mid FOR EACH ROW EXECUTE FUNCTION mm_log_mid();
BEGIN;
SELECT cascade_delete('mm_root', 1);
SELECT mm_state();
SELECT * FROM mm_log ORDER BY mid;
ROLLBACK;
DROP TRIGGER mm_log_mid ON mm_mid;

-- A row of a small cascade changed by another transaction after collection is
-- covered by test/isolation (concurrent_recheck), which runs in both modes.

-- A large cascade (1200 mids, 2400 leaves) uses key tables; tables that queue
-- no trigger events (no triggers of their own, every referencing foreign key
-- left out by the fast path) are deleted in one statement joining the key
-- table, the others in batches of batch_size keys. Same result either way.
INSERT INTO mm_root VALUES (4);
INSERT INTO mm_mid SELECT 1000 + g, 4 FROM generate_series(1, 1200) g;
INSERT INTO mm_leaf SELECT 10000 + g, 1000 + (g + 1) / 2 FROM generate_series(1, 2400) g;
ANALYZE mm_mid, mm_leaf;
CREATE FUNCTION mm_counts() RETURNS text LANGUAGE sql AS $$
SELECT format('roots %s, mids %s, leaves %s, notes with null mid %s',
              (SELECT count(*) FROM mm_root), (SELECT count(*) FROM mm_mid),
              (SELECT count(*) FROM mm_leaf), (SELECT count(*) FROM mm_note WHERE mid_id IS NULL))
$$;
SELECT mm_counts();
BEGIN;
SELECT cascade_delete('mm_root', 4);
SELECT mm_counts();
ROLLBACK;
BEGIN;
SET LOCAL cascade_delete.batch_size = 100;
SET LOCAL cascade_delete.fast_path = off;
SELECT cascade_delete('mm_root', 4);
SELECT mm_counts();
ROLLBACK;

-- The key tables of a dropped table are dropped by the next call (after the
-- table graph is read again), not kept until the session ends; not in a
-- read-only transaction, where a dry run still works.
SET cascade_delete.memory_keys = 0;
-- (a self-reference: its key table has a primary key and an index too)
CREATE TABLE mm_gone (id int PRIMARY KEY, up int REFERENCES mm_gone ON DELETE CASCADE);
CREATE TABLE mm_gone_child (id int PRIMARY KEY, g int REFERENCES mm_gone ON DELETE CASCADE);
INSERT INTO mm_gone VALUES (1, NULL); INSERT INTO mm_gone_child VALUES (1, 1);
SELECT 'mm_gone'::regclass::oid AS gone_oid \gset
SELECT cascade_delete('mm_gone', 42);
CREATE FUNCTION mm_gone_key_tables(oid) RETURNS bigint LANGUAGE sql AS $$
SELECT count(*) FROM pg_class
WHERE relnamespace = pg_my_temp_schema() AND relkind = 'r'
  AND relname LIKE 'cascade\_delete\_%\_' || $1 || '\_%'
$$;
SELECT mm_gone_key_tables(:gone_oid);
-- a temporary table of the caller's that shares the prefix is not touched
CREATE TEMP TABLE cascade_delete_my_big_table (i int);
DROP TABLE mm_gone_child, mm_gone;
BEGIN READ ONLY;
SET LOCAL cascade_delete.memory_keys = 1000;
SELECT cascade_delete('mm_root', 2, dry_run => true);
SELECT mm_gone_key_tables(:gone_oid);
COMMIT;
SELECT cascade_delete('mm_root', 99);
SELECT mm_gone_key_tables(:gone_oid);
SELECT mm_key_tables() > 0 AS other_key_tables_kept;
SELECT count(*) FROM cascade_delete_my_big_table;
SET cascade_delete.memory_keys = 1000;

-- A DROP of a key table that is rolled back brings back its leftover keys; the
-- next call still clears them (a stale key would delete a row nobody named).
SET cascade_delete.memory_keys = 0;
CREATE TABLE mm_g (id int PRIMARY KEY);
CREATE TABLE mm_gc (id int PRIMARY KEY, g int REFERENCES mm_g ON DELETE CASCADE);
INSERT INTO mm_g VALUES (1), (2); INSERT INTO mm_gc VALUES (1, 1), (2, 2);
SELECT cascade_delete('mm_g', 1, dry_run => true);
BEGIN;
DROP TABLE mm_g CASCADE;
SELECT cascade_delete('mm_root', 99);
ROLLBACK;
SELECT cascade_delete('mm_g', 2);
SELECT (SELECT array_agg(id ORDER BY id) FROM mm_g) AS g, (SELECT array_agg(id ORDER BY id) FROM mm_gc) AS gc;
SET cascade_delete.memory_keys = 1000;

-- A single self-reference is collected in memory too (one recursive query, read
-- up to the limit): no key table, the same rows as with key tables, a cycle in
-- the data ends.
CREATE TABLE mm_tree (id int PRIMARY KEY, up int REFERENCES mm_tree ON DELETE CASCADE);
INSERT INTO mm_tree SELECT g, NULLIF(g / 2, 0) FROM generate_series(1, 20) g;
INSERT INTO mm_tree VALUES (30, NULL), (31, 30);
UPDATE mm_tree SET up = 31 WHERE id = 30;
SELECT mm_key_tables() AS key_tables_before \gset
BEGIN;
SELECT cascade_delete('mm_tree', 2);
SELECT array_agg(id ORDER BY id) FROM mm_tree;
SELECT cascade_delete('mm_tree', 30);
SELECT mm_key_tables() - :key_tables_before AS key_tables_made;
ROLLBACK;
BEGIN;
SET LOCAL cascade_delete.memory_keys = 3;
SELECT cascade_delete('mm_tree', 2);
SELECT array_agg(id ORDER BY id) FROM mm_tree;
SELECT mm_key_tables() - :key_tables_before AS key_tables_made;
ROLLBACK;
DROP TABLE mm_tree;

-- cascade_delete 0.2.0 -> 0.3.0: the explain (a preview tree of paths, with
-- samples and blockers), the table graph as Graphviz DOT or Mermaid text, and
-- the keys of the rows a delete would delete.
\echo Use "ALTER EXTENSION cascade_delete UPDATE TO '0.3.0'" to load this file. \quit

-- One row per path from the roots: the table it reaches, the foreign key or
-- policy it came through, the rows reached that way and a sample of their keys;
-- tree is the row as a line of an indented tree, for psql.
CREATE TYPE @extschema@.cascade_delete_path AS (path integer, parent_path integer, depth integer,
    table_name regclass, via text, columns text[], action text, kind text, rows bigint, table_rows bigint,
    sample_keys text[], note text, tree text);
COMMENT ON TYPE @extschema@.cascade_delete_path IS 'A row of cascade_delete_explain: one path of a cascade';

CREATE FUNCTION @extschema@.cascade_delete_explain(target regclass, key anyelement,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000)
RETURNS SETOF @extschema@.cascade_delete_path
AS 'MODULE_PATHNAME', 'cascade_delete_explain_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain(regclass, anyelement, integer, integer) IS
    'What cascade_delete(target, key) would do, as a tree of paths with row counts, sample keys and blockers; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_explain(target regclass, key text,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000)
RETURNS SETOF @extschema@.cascade_delete_path
AS 'MODULE_PATHNAME', 'cascade_delete_explain_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain(regclass, text, integer, integer) IS
    'What cascade_delete(target, key) would do, the key given as text; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_explain_many(target regclass, keys anyarray,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000)
RETURNS SETOF @extschema@.cascade_delete_path
AS 'MODULE_PATHNAME', 'cascade_delete_explain_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain_many(regclass, anyarray, integer, integer) IS
    'What cascade_delete_many(target, keys) would do, as a tree of paths; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_explain_many(target regclass, keys text,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000)
RETURNS SETOF @extschema@.cascade_delete_path
AS 'MODULE_PATHNAME', 'cascade_delete_explain_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain_many(regclass, text, integer, integer) IS
    'What cascade_delete_many(target, keys) would do, the keys as an array in text form; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_explain_where(target regclass, condition text,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000)
RETURNS SETOF @extschema@.cascade_delete_path
AS 'MODULE_PATHNAME', 'cascade_delete_explain_where'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain_where(regclass, text, integer, integer) IS
    'What cascade_delete_where(target, condition) would do, as a tree of paths; deletes nothing';

-- The table graph: every foreign key and policy (target NULL), or the part a
-- delete from target reaches; format 'dot' (Graphviz) or 'mermaid'; counts, a
-- dry run's report, adds its row counts to the tables.
CREATE FUNCTION @extschema@.cascade_delete_graph(target regclass DEFAULT NULL, format text DEFAULT 'dot',
    counts jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'cascade_delete_graph'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_graph(regclass, text, jsonb) IS
    'The foreign keys and policies cascade_delete follows (from target, or all) as Graphviz DOT or Mermaid text';

-- The rows a delete would delete, as (table, primary key as text), tables in
-- deletion order (children first): for ORMs that must hand every deleted row
-- to code of their own (Django's pre_delete / post_delete receivers). Only the
-- tables given (all when NULL). Refuses as the delete would (a PROTECT,
-- RESTRICT or NO ACTION blocker raises 23503); deletes nothing.
CREATE TYPE @extschema@.cascade_delete_key AS (table_name regclass, key text, delete_order integer);
COMMENT ON TYPE @extschema@.cascade_delete_key IS 'A row of cascade_delete_keys: a row a delete would delete';

CREATE FUNCTION @extschema@.cascade_delete_keys(target regclass, key anyelement, tables regclass[] DEFAULT NULL)
RETURNS SETOF @extschema@.cascade_delete_key
AS 'MODULE_PATHNAME', 'cascade_delete_keys_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_keys(regclass, anyelement, regclass[]) IS
    'The rows cascade_delete(target, key) would delete (of the given tables), with their tables'' deletion order; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_keys(target regclass, key text, tables regclass[] DEFAULT NULL)
RETURNS SETOF @extschema@.cascade_delete_key
AS 'MODULE_PATHNAME', 'cascade_delete_keys_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_keys(regclass, text, regclass[]) IS
    'The rows cascade_delete(target, key) would delete, the key given as text; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_keys_many(target regclass, keys anyarray, tables regclass[] DEFAULT NULL)
RETURNS SETOF @extschema@.cascade_delete_key
AS 'MODULE_PATHNAME', 'cascade_delete_keys_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_keys_many(regclass, anyarray, regclass[]) IS
    'The rows cascade_delete_many(target, keys) would delete (of the given tables); deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_keys_many(target regclass, keys text, tables regclass[] DEFAULT NULL)
RETURNS SETOF @extschema@.cascade_delete_key
AS 'MODULE_PATHNAME', 'cascade_delete_keys_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_keys_many(regclass, text, regclass[]) IS
    'The rows cascade_delete_many(target, keys) would delete, the keys as an array in text form; deletes nothing';

-- cascade_delete 0.2.0 -> 0.3.0: the explain (a preview tree of paths, with
-- samples and blockers) and the table graph as Graphviz DOT or Mermaid text.
\echo Use "ALTER EXTENSION cascade_delete UPDATE TO '0.3.0'" to load this file. \quit

-- One row per path from the roots: the table it reaches, the foreign key or
-- policy it came through, the rows reached that way and a sample of their keys;
-- tree is the row as a line of an indented tree, for psql.
CREATE FUNCTION @extschema@.cascade_delete_explain(target regclass, key anyelement,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000,
    OUT path integer, OUT parent_path integer, OUT depth integer, OUT table_name regclass,
    OUT via text, OUT columns text[], OUT action text, OUT kind text, OUT rows bigint,
    OUT table_rows bigint, OUT sample_keys text[], OUT note text, OUT tree text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'cascade_delete_explain_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain(regclass, anyelement, integer, integer) IS
    'What cascade_delete(target, key) would do, as a tree of paths with row counts, sample keys and blockers; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_explain(target regclass, key text,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000,
    OUT path integer, OUT parent_path integer, OUT depth integer, OUT table_name regclass,
    OUT via text, OUT columns text[], OUT action text, OUT kind text, OUT rows bigint,
    OUT table_rows bigint, OUT sample_keys text[], OUT note text, OUT tree text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'cascade_delete_explain_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain(regclass, text, integer, integer) IS
    'What cascade_delete(target, key) would do, the key given as text; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_explain_many(target regclass, keys anyarray,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000,
    OUT path integer, OUT parent_path integer, OUT depth integer, OUT table_name regclass,
    OUT via text, OUT columns text[], OUT action text, OUT kind text, OUT rows bigint,
    OUT table_rows bigint, OUT sample_keys text[], OUT note text, OUT tree text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'cascade_delete_explain_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain_many(regclass, anyarray, integer, integer) IS
    'What cascade_delete_many(target, keys) would do, as a tree of paths; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_explain_many(target regclass, keys text,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000,
    OUT path integer, OUT parent_path integer, OUT depth integer, OUT table_name regclass,
    OUT via text, OUT columns text[], OUT action text, OUT kind text, OUT rows bigint,
    OUT table_rows bigint, OUT sample_keys text[], OUT note text, OUT tree text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'cascade_delete_explain_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION @extschema@.cascade_delete_explain_many(regclass, text, integer, integer) IS
    'What cascade_delete_many(target, keys) would do, the keys as an array in text form; deletes nothing';

CREATE FUNCTION @extschema@.cascade_delete_explain_where(target regclass, condition text,
    samples integer DEFAULT 3, max_paths integer DEFAULT 1000,
    OUT path integer, OUT parent_path integer, OUT depth integer, OUT table_name regclass,
    OUT via text, OUT columns text[], OUT action text, OUT kind text, OUT rows bigint,
    OUT table_rows bigint, OUT sample_keys text[], OUT note text, OUT tree text)
RETURNS SETOF record
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

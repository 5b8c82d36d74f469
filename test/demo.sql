-- The seed's example: deleting one row of a whose b rows carry ~4 KB of JSON
-- and whose c rows hang off b (schema: test/demo_schema.sql). Run by
-- `make demo` on a throwaway cluster, from the project's top directory.
\pset footer off
\echo 'schema: test/demo_schema.sql (a <- b <- c as policies, plus PROTECT, SET_NULL and DO_NOTHING)'
\o /dev/null
\ir demo_schema.sql
\o

\echo 'loading: 50 a rows; 2,000 b rows (1,000 under a 42) with ~4 KB of jsonb each; 20,000 c rows'
INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 50) g;
INSERT INTO b SELECT g, CASE WHEN g <= 1000 THEN 42 ELSE 1 + g % 41 END,
                     jsonb_build_object('blob', (SELECT string_agg(md5(g::text || i::text), '')
                                                 FROM generate_series(1, 128) i))
FROM generate_series(1, 2000) g;
INSERT INTO c SELECT g, 1 + g % 2000 FROM generate_series(1, 20000) g;
INSERT INTO invoice VALUES (1, 7), (2, 7);
INSERT INTO tag SELECT g, g * 3 FROM generate_series(1, 100) g;
INSERT INTO audit VALUES (1, 42), (2, 7);
ANALYZE;

\echo 'what would go, and why: SELECT tree FROM cascade_delete_explain(''a'', 42)'
SELECT tree FROM cascade_delete_explain('a', 42);
\echo 'a 7 is invoiced (PROTECT): SELECT tree FROM cascade_delete_explain(''a'', 7)'
SELECT tree FROM cascade_delete_explain('a', 7);
\echo 'preview: SELECT cascade_delete(''a'', 42, dry_run => true)'
SELECT jsonb_pretty(cascade_delete('a', 42, dry_run => true));
\timing on
\echo 'SELECT cascade_delete(''a'', 42)'
SELECT jsonb_pretty(cascade_delete('a', 42));
\timing off
SELECT (SELECT count(*) FROM a) AS a_left, (SELECT count(*) FROM b) AS b_left,
       (SELECT count(*) FROM c) AS c_left, (SELECT count(*) FROM tag WHERE b_id IS NULL) AS tags_set_null;

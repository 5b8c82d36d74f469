-- The seed's example: deleting one row of a whose b rows carry ~4 KB of JSON
-- and whose c rows hang off b. Run by `make demo` on a throwaway cluster.
\pset footer off
CREATE EXTENSION cascade_delete;
CREATE TABLE a (id int PRIMARY KEY, name text);
CREATE TABLE b (id bigint PRIMARY KEY, a_id int NOT NULL REFERENCES a DEFERRABLE INITIALLY DEFERRED,
                data jsonb NOT NULL);
CREATE TABLE c (id bigint PRIMARY KEY, b_id bigint NOT NULL REFERENCES b DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX ON b (a_id);
CREATE INDEX ON c (b_id);
-- Django's on_delete=CASCADE, as policies (its foreign keys are NO ACTION in the database)
SELECT cascade_delete_set_policy('b', '{a_id}', 'CASCADE');
SELECT cascade_delete_set_policy('c', '{b_id}', 'CASCADE');

\echo 'loading: 50 a rows; 2,000 b rows (1,000 under a 42) with ~4 KB of jsonb each; 20,000 c rows'
INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 50) g;
INSERT INTO b SELECT g, CASE WHEN g <= 1000 THEN 42 ELSE 1 + g % 41 END,
                     jsonb_build_object('blob', (SELECT string_agg(md5(g::text || i::text), '')
                                                 FROM generate_series(1, 128) i))
FROM generate_series(1, 2000) g;
INSERT INTO c SELECT g, 1 + g % 2000 FROM generate_series(1, 20000) g;
ANALYZE;

\echo 'preview: SELECT cascade_delete(''a'', 42, dry_run => true)'
SELECT jsonb_pretty(cascade_delete('a', 42, dry_run => true));
\timing on
\echo 'SELECT cascade_delete(''a'', 42)'
SELECT jsonb_pretty(cascade_delete('a', 42));
\timing off
SELECT (SELECT count(*) FROM a) AS a_left, (SELECT count(*) FROM b) AS b_left,
       (SELECT count(*) FROM c) AS c_left;

-- Many roots in one call: cascade_delete_many (an array of keys) and
-- cascade_delete_where (a condition on the target table).
\set SHOW_CONTEXT never
CREATE SCHEMA wm;
SET search_path = wm, public;
CREATE TABLE project (id int PRIMARY KEY, name text, archived boolean NOT NULL DEFAULT false);
CREATE TABLE task (id int PRIMARY KEY, project_id int REFERENCES project ON DELETE CASCADE);
INSERT INTO project SELECT g, 'p' || g, g > 7 FROM generate_series(1, 10) g;
INSERT INTO task SELECT g, 1 + g % 10 FROM generate_series(1, 50) g;

-- duplicates and keys without rows are fine
SELECT cascade_delete_many('project', ARRAY[1, 2, 2, 99]);
SELECT cascade_delete_many('project', ARRAY['3']);
SELECT cascade_delete_where('project', 'archived');
SELECT cascade_delete_where('project', $$name IN ('p4', 'p5') AND project.id > 4$$);
SELECT id FROM project ORDER BY id;
SELECT count(*) FROM task;

-- composite keys: a two-dimensional array [keys][columns]
CREATE TABLE cell (x int, y int, PRIMARY KEY (x, y));
CREATE TABLE mark (id int PRIMARY KEY, x int, y int, FOREIGN KEY (x, y) REFERENCES cell ON DELETE CASCADE);
INSERT INTO cell SELECT a, b FROM generate_series(1, 3) a, generate_series(1, 3) b;
INSERT INTO mark SELECT row_number() OVER (), x, y FROM cell;
SELECT cascade_delete_many('cell', ARRAY[[1, 1], [2, 2], [3, 3]]);
SELECT count(*) FROM cell WHERE x = y;
-- untyped literals (what node-postgres sends for an array parameter) are the
-- arrays' text form
SELECT cascade_delete_many('cell', '{{1,2},{2,1}}');
SELECT cascade_delete_many('project', '{6, 7}', dry_run => true) -> 'deleted';
SELECT cascade_delete_many('project', '{}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_many('project', 'six');
\echo sqlstate :LAST_ERROR_SQLSTATE

SET client_min_messages = warning;
DROP SCHEMA wm CASCADE;

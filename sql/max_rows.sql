-- cascade_delete.max_rows: a cascade that would delete more rows raises an
-- error (54000) and deletes nothing; 0 turns the limit off.
\set SHOW_CONTEXT never
CREATE SCHEMA mr;
SET search_path = mr, public;
CREATE TABLE org (id int PRIMARY KEY);
CREATE TABLE member (id int PRIMARY KEY, org_id int REFERENCES org ON DELETE CASCADE);
INSERT INTO org VALUES (1), (2);
INSERT INTO member SELECT g, 1 + g % 2 FROM generate_series(1, 100) g;

-- the settings exist once the library is loaded (a SET before works too)
SELECT cascade_delete('org', 999);
SHOW cascade_delete.max_rows;
SHOW cascade_delete.batch_size;
SET cascade_delete.max_rows = 50;
-- org 1 and its 50 members: 51 rows
SELECT cascade_delete('org', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) FROM member;
-- the preview says so without raising
SELECT cascade_delete('org', 1, true) ->> 'max_rows_exceeded' AS exceeded;
SET cascade_delete.max_rows = 51;
SELECT cascade_delete('org', 1);
SET cascade_delete.max_rows = 0;
SELECT cascade_delete('org', 2);
SELECT count(*) FROM member;
SET cascade_delete.max_rows = -1;
RESET cascade_delete.max_rows;

-- batch_size changes how many keys go into one statement, not the result:
-- 100 members (deleted by their keys) and their 100 badges (deleted from the
-- members' keys) go in batches of 7
CREATE TABLE badge (id int PRIMARY KEY, member_id int REFERENCES member ON DELETE CASCADE);
SET cascade_delete.batch_size = 7;
INSERT INTO org VALUES (3);
INSERT INTO member SELECT g, 3 FROM generate_series(1, 100) g;
INSERT INTO badge SELECT g, g FROM generate_series(1, 100) g;
SELECT cascade_delete('org', 3);
SELECT (SELECT count(*) FROM member) AS members, (SELECT count(*) FROM badge) AS badges;
SET cascade_delete.batch_size = 0;
RESET cascade_delete.batch_size;

SET client_min_messages = warning;
DROP SCHEMA mr CASCADE;

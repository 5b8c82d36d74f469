-- cascade_delete runs with the caller's rights: every statement needs the
-- privileges an equivalent DELETE / UPDATE would; row-level security applies;
-- only a table's owner can set its policies; the policy table is read-only.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_cd_user;
DROP ROLE IF EXISTS regress_cd_owner;
RESET client_min_messages;
CREATE ROLE regress_cd_user;
CREATE ROLE regress_cd_owner;
CREATE SCHEMA priv;
GRANT USAGE ON SCHEMA priv TO regress_cd_user, regress_cd_owner;
SET search_path = priv, public;

CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE);
CREATE TABLE audit (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE SET NULL);
INSERT INTO parent VALUES (1), (2), (3);
INSERT INTO child VALUES (10, 1), (20, 2), (30, 3);
INSERT INTO audit VALUES (100, 1), (200, 2), (300, 3);
GRANT SELECT, DELETE ON parent TO regress_cd_user;
GRANT SELECT ON child, audit TO regress_cd_user;
GRANT UPDATE ON audit TO regress_cd_user;

-- no DELETE on child: 42501, nothing changes
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT DELETE ON child TO regress_cd_user;
REVOKE UPDATE ON audit FROM regress_cd_user;
-- no UPDATE on audit (SET NULL): 42501, nothing changes
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT (SELECT count(*) FROM parent) AS parents, (SELECT count(*) FROM child) AS children,
       (SELECT count(*) FROM audit WHERE parent_id IS NULL) AS nulls;
GRANT UPDATE ON audit TO regress_cd_user;
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 1);

-- policies: only the owner of the table may set or drop them
SELECT cascade_delete_set_policy('child', '{parent_id}', 'PROTECT');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- and nobody writes the policy table directly
INSERT INTO cascade_delete_policy VALUES ('priv.child', '{parent_id}', 'PROTECT', NULL, 'priv.parent', '{id}');
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
ALTER TABLE child OWNER TO regress_cd_owner;
SET ROLE regress_cd_owner;
SELECT cascade_delete_set_policy('child', '{parent_id}', 'PROTECT');
DELETE FROM cascade_delete_policy;
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT child, columns, action FROM cascade_delete_policy;
SET ROLE regress_cd_user;
SELECT cascade_delete_drop_policy('child', '{parent_id}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SET ROLE regress_cd_owner;
SELECT cascade_delete_drop_policy('child', '{parent_id}');
RESET ROLE;

-- Row-level security hides rows from the caller's statements. A hidden row
-- that references a deleted row is still seen by PostgreSQL's own check (it
-- runs as the table's owner), so it blocks the delete instead of becoming an
-- orphan.
CREATE TABLE secret (id int PRIMARY KEY, parent_id int REFERENCES parent, visible boolean);
INSERT INTO secret VALUES (1, 2, true), (2, 2, false);
SELECT cascade_delete_set_policy('secret', '{parent_id}', 'CASCADE');
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_visible ON secret USING (visible);
GRANT SELECT, DELETE ON secret TO regress_cd_user;
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 2);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT * FROM secret ORDER BY id;

SET client_min_messages = warning;
DROP SCHEMA priv CASCADE;
DROP OWNED BY regress_cd_user, regress_cd_owner;
DROP ROLE regress_cd_user;
DROP ROLE regress_cd_owner;

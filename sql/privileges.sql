-- cascade_delete follows PostgreSQL's RI privilege model: the caller deletes
-- the roots (DELETE on the root's table) and reads what the cascade reaches
-- (SELECT); each referencing table's rows are deleted or updated as its
-- owner, as PostgreSQL's own ON DELETE actions run, so the caller needs no
-- DELETE or UPDATE there, and the triggers fire as that owner. Row-level
-- security applies to what the caller reads; only a table's owner can set
-- its policies; the policy table is read-only.
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
CREATE TABLE who (tbl text, role text);
GRANT INSERT ON who TO PUBLIC;
CREATE FUNCTION log_role() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO priv.who VALUES (TG_TABLE_NAME, current_user);
    RETURN NULL;
END $$;
CREATE TRIGGER child_who AFTER DELETE ON child FOR EACH ROW EXECUTE FUNCTION log_role();
CREATE TRIGGER audit_who AFTER UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION log_role();
INSERT INTO parent VALUES (1), (2), (3);
INSERT INTO child VALUES (10, 1), (20, 2), (30, 3);
INSERT INTO audit VALUES (100, 1), (200, 2), (300, 3);
ALTER TABLE child OWNER TO regress_cd_owner;
ALTER TABLE audit OWNER TO regress_cd_owner;
GRANT SELECT ON parent, child, audit TO regress_cd_user;

-- no DELETE on the root's table: 42501, nothing changes
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT DELETE ON parent TO regress_cd_user;
-- no SELECT on a table the cascade reads: 42501, nothing changes
REVOKE SELECT ON audit FROM regress_cd_user;
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT (SELECT count(*) FROM parent) AS parents, (SELECT count(*) FROM child) AS children,
       (SELECT count(*) FROM audit WHERE parent_id IS NULL) AS nulls;
GRANT SELECT ON audit TO regress_cd_user;
-- DELETE on parent and SELECT everywhere suffice, as for a native DELETE
-- (which needs DELETE on parent only): child's rows are deleted and audit's
-- updated as their owner, and their triggers run as that owner. PostgreSQL's
-- own cascade (parent 3) runs BEFORE triggers as the owner too, but fires
-- AFTER triggers at the end of the caller's statement, as the caller:
-- cascade_delete never runs a referencing table's trigger as the caller.
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 1);
DELETE FROM parent WHERE id = 3;
RESET ROLE;
SELECT tbl, role, count(*) FROM who GROUP BY 1, 2 ORDER BY 1, 2;
ALTER TABLE child OWNER TO CURRENT_USER;
ALTER TABLE audit OWNER TO CURRENT_USER;
SET ROLE regress_cd_user;

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

-- Row-level security hides rows from what the caller reads. A hidden row of
-- a table the cascade collects keys of is not collected; a real foreign key's
-- own check (run as the table's owner) sees it, and the delete fails instead
-- of leaving an orphan. A hidden row of a leaf (a table deleted by its
-- parent's keys) is deleted, as the table's owner sees it, as PostgreSQL's
-- own ON DELETE CASCADE deletes it.
CREATE TABLE secret (id int PRIMARY KEY, parent_id int REFERENCES parent, visible boolean);
CREATE TABLE secret_note (id int PRIMARY KEY, secret_id int REFERENCES secret ON DELETE CASCADE);
INSERT INTO secret VALUES (1, 2, true), (2, 2, false);
SELECT cascade_delete_set_policy('secret', '{parent_id}', 'CASCADE');
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_visible ON secret USING (visible);
GRANT SELECT, DELETE ON secret TO regress_cd_user;
GRANT SELECT ON secret_note TO regress_cd_user;
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 2);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT * FROM secret ORDER BY id;
DROP TABLE secret_note;
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 2);
RESET ROLE;
SELECT * FROM secret ORDER BY id;
-- Under an application-only key nothing would catch a hidden row: the
-- table's owner counts the rows the caller missed, and one refuses the call
-- (42501) rather than stay behind referencing a deleted row; a PROTECT row
-- the caller cannot see blocks it the same way. As a leaf, the hidden row goes.
INSERT INTO parent VALUES (4), (5);
CREATE TABLE app (id int PRIMARY KEY, parent_id int, visible boolean);
CREATE TABLE app_note (id int PRIMARY KEY, app_id int REFERENCES app ON DELETE CASCADE);
INSERT INTO app VALUES (1, 4, true), (2, 4, false);
SELECT cascade_delete_set_policy('app', '{parent_id}', 'CASCADE', parent => 'parent');
ALTER TABLE app ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_visible ON app USING (visible);
GRANT SELECT, DELETE ON app TO regress_cd_user;
GRANT SELECT ON app_note TO regress_cd_user;
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 4);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('parent', 4, dry_run => true);
RESET ROLE;
SELECT cascade_delete_set_policy('app', '{parent_id}', 'PROTECT', parent => 'parent');
UPDATE app SET parent_id = 5 WHERE id = 1;
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 4);
RESET ROLE;
SELECT cascade_delete_set_policy('app', '{parent_id}', 'CASCADE', parent => 'parent');
DROP TABLE app_note;
SET ROLE regress_cd_user;
SELECT cascade_delete('parent', 4);
RESET ROLE;
SELECT * FROM app ORDER BY id;

SET client_min_messages = warning;
DROP SCHEMA priv CASCADE;
DROP OWNED BY regress_cd_user, regress_cd_owner;
DROP ROLE regress_cd_user;
DROP ROLE regress_cd_owner;

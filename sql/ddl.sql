-- The table graph, key tables and plans are cached per session; DDL between
-- calls in the same session must be obeyed by the next call.
\set SHOW_CONTEXT never
CREATE SCHEMA ddl;
SET search_path = ddl, public;
CREATE TABLE owner (id int PRIMARY KEY);
CREATE TABLE pet (id int PRIMARY KEY, owner_id int REFERENCES owner ON DELETE CASCADE);
INSERT INTO owner SELECT g FROM generate_series(1, 8) g;
INSERT INTO pet SELECT g, g FROM generate_series(1, 8) g;
SELECT cascade_delete('owner', 1);

-- a new foreign key: the next call cascades through it
CREATE TABLE toy (id int PRIMARY KEY, pet_id int);
INSERT INTO toy SELECT g, g FROM generate_series(2, 8) g;
ALTER TABLE toy ADD FOREIGN KEY (pet_id) REFERENCES pet ON DELETE CASCADE;
SELECT cascade_delete('owner', 2);

-- a dropped foreign key: the next call no longer does
ALTER TABLE toy DROP CONSTRAINT toy_pet_id_fkey;
SELECT cascade_delete('owner', 3);
SELECT count(*) AS orphan_toys FROM toy WHERE pet_id = 3;

-- a changed action
ALTER TABLE pet DROP CONSTRAINT pet_owner_id_fkey,
    ADD FOREIGN KEY (owner_id) REFERENCES owner ON DELETE SET NULL;
SELECT cascade_delete('owner', 4);

-- renamed table and schema: the report and the statements use the new names
ALTER TABLE pet RENAME TO animal;
ALTER SCHEMA ddl RENAME TO ddl2;
SET search_path = ddl2, public;
SELECT cascade_delete('owner', 5);

-- a key column's type changes: a key table of the new type is used
ALTER TABLE animal DROP CONSTRAINT pet_owner_id_fkey;
ALTER TABLE owner ALTER COLUMN id TYPE bigint;
ALTER TABLE animal ALTER COLUMN owner_id TYPE bigint;
ALTER TABLE animal ADD FOREIGN KEY (owner_id) REFERENCES owner ON DELETE CASCADE;
SELECT cascade_delete('owner', 6);

-- the session's temporary tables are discarded: the next call makes its own again
DISCARD TEMP;
SELECT cascade_delete('owner', 7);
SELECT * FROM owner ORDER BY id;
SELECT * FROM animal ORDER BY id;

-- A policy names its columns; one renamed, swapped or replaced by a new column
-- of the same name since the policy was set is refused, never applied to
-- another column.
CREATE TABLE visit (id int PRIMARY KEY, owner_ref int, y int);
INSERT INTO visit VALUES (10, 8, 9), (20, 9, 8);
INSERT INTO owner VALUES (9);
SELECT cascade_delete_set_policy('visit', '{owner_ref}', 'CASCADE', parent => 'owner');
ALTER TABLE visit RENAME COLUMN owner_ref TO tmp;
ALTER TABLE visit RENAME COLUMN y TO owner_ref;
ALTER TABLE visit RENAME COLUMN tmp TO y;
SELECT cascade_delete('owner', 8);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- set again on the column that now holds the references
SELECT cascade_delete_drop_policy('visit', '{owner_ref}');
SELECT cascade_delete_set_policy('visit', '{y}', 'CASCADE', parent => 'owner');
SELECT cascade_delete('owner', 8);
SELECT * FROM visit;

SET client_min_messages = warning;
DROP SCHEMA ddl2 CASCADE;

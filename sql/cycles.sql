-- Cycles between tables and several paths to the same table.
\set SHOW_CONTEXT never
CREATE SCHEMA cyc;
SET search_path = cyc, public;

-- Two tables that reference each other, both ON DELETE CASCADE (one deferrable
-- so the data can be loaded).
CREATE TABLE husband (id int PRIMARY KEY, wife_id int);
CREATE TABLE wife (id int PRIMARY KEY, husband_id int REFERENCES husband ON DELETE CASCADE);
ALTER TABLE husband ADD FOREIGN KEY (wife_id) REFERENCES wife ON DELETE CASCADE
    DEFERRABLE INITIALLY DEFERRED;
BEGIN;
INSERT INTO husband VALUES (1, 1), (2, 2), (3, NULL);
INSERT INTO wife VALUES (1, 1), (2, 2), (3, 1);
COMMIT;
-- husband 1 -> wives 1 and 3 -> (wife 1 is husband 1's) : 1 husband, 2 wives.
SELECT cascade_delete('husband', 1);
SELECT * FROM husband ORDER BY id;
SELECT * FROM wife ORDER BY id;

-- A cycle through three tables with immediate NO ACTION constraints whose
-- cascades come from policies: every row of the cycle goes in one statement.
CREATE TABLE ra (id int PRIMARY KEY, rc_id int);
CREATE TABLE rb (id int PRIMARY KEY, ra_id int REFERENCES ra);
CREATE TABLE rc (id int PRIMARY KEY, rb_id int REFERENCES rb);
INSERT INTO ra VALUES (1, NULL), (2, NULL);
INSERT INTO rb VALUES (10, 1), (20, 2);
INSERT INTO rc VALUES (100, 10), (200, 20);
UPDATE ra SET rc_id = 100 WHERE id = 1;
UPDATE ra SET rc_id = 200 WHERE id = 2;
ALTER TABLE ra ADD FOREIGN KEY (rc_id) REFERENCES rc;
SELECT cascade_delete_set_policy('rb', '{ra_id}', 'CASCADE');
SELECT cascade_delete_set_policy('rc', '{rb_id}', 'CASCADE');
SELECT cascade_delete_set_policy('ra', '{rc_id}', 'CASCADE');
SELECT cascade_delete('rb', 10);
SELECT * FROM ra ORDER BY id;
SELECT * FROM rb ORDER BY id;
SELECT * FROM rc ORDER BY id;

-- A diamond: item is reachable from shop through two paths; each row is
-- deleted once and counted once.
CREATE TABLE shop (id int PRIMARY KEY);
CREATE TABLE shelf (id int PRIMARY KEY, shop_id int REFERENCES shop ON DELETE CASCADE);
CREATE TABLE supplier (id int PRIMARY KEY, shop_id int REFERENCES shop ON DELETE CASCADE);
CREATE TABLE item (id int PRIMARY KEY, shelf_id int REFERENCES shelf ON DELETE CASCADE,
                   supplier_id int REFERENCES supplier ON DELETE CASCADE);
INSERT INTO shop VALUES (1), (2);
INSERT INTO shelf VALUES (1, 1), (2, 2);
INSERT INTO supplier VALUES (1, 1), (2, 2);
INSERT INTO item VALUES (1, 1, 1), (2, 1, 2), (3, 2, 1), (4, 2, 2);
SELECT cascade_delete('shop', 1);
SELECT * FROM item ORDER BY id;

SET client_min_messages = warning;
DROP SCHEMA cyc CASCADE;

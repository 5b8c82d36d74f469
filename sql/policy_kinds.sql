-- Policy kinds of their own: parent links (Django's multi-table inheritance)
-- and generic relations (Django's GenericRelation / GenericForeignKey).
\set SHOW_CONTEXT never

-- Multi-table inheritance: place <- restaurant <- italian, each child's primary
-- key is a foreign key to its parent (Django's <parent>_ptr fields), plus an
-- ordinary reference to the base table.
CREATE TABLE place (id int PRIMARY KEY, name text);
CREATE TABLE restaurant (place_ptr_id int PRIMARY KEY REFERENCES place DEFERRABLE INITIALLY DEFERRED,
                         seats int);
CREATE TABLE italian (restaurant_ptr_id int PRIMARY KEY
                      REFERENCES restaurant DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE review (id int PRIMARY KEY, place_id int REFERENCES place DEFERRABLE INITIALLY DEFERRED);
SELECT cascade_delete_set_policy('restaurant', '{place_ptr_id}', 'CASCADE', parent_link => true);
SELECT cascade_delete_set_policy('italian', '{restaurant_ptr_id}', 'CASCADE', parent_link => true);
SELECT cascade_delete_set_policy('review', '{place_id}', 'CASCADE');
INSERT INTO place SELECT g, 'p' || g FROM generate_series(1, 4) g;
INSERT INTO restaurant VALUES (1, 10), (2, 20), (3, 30);
INSERT INTO italian VALUES (1), (2);
INSERT INTO review VALUES (100, 1), (101, 2), (102, 3), (103, 4);

-- Deleting the most derived row deletes the rows of every parent, and what
-- references them: 1 italian, 1 restaurant, 1 place, 1 review.
BEGIN;
SELECT cascade_delete('italian', 1);
SELECT (SELECT array_agg(id ORDER BY id) FROM place) AS place,
       (SELECT array_agg(place_ptr_id ORDER BY 1) FROM restaurant) AS restaurant,
       (SELECT array_agg(restaurant_ptr_id ORDER BY 1) FROM italian) AS italian,
       (SELECT array_agg(id ORDER BY id) FROM review) AS review;
ROLLBACK;
-- A middle row: its parent goes, its child goes (CASCADE down), and the
-- review of place 3 goes with place 3.
BEGIN;
SELECT cascade_delete('restaurant', 3);
SELECT cascade_delete('restaurant', 2);
SELECT (SELECT array_agg(id ORDER BY id) FROM place) AS place,
       (SELECT array_agg(place_ptr_id ORDER BY 1) FROM restaurant) AS restaurant,
       (SELECT array_agg(restaurant_ptr_id ORDER BY 1) FROM italian) AS italian,
       (SELECT array_agg(id ORDER BY id) FROM review) AS review;
ROLLBACK;
-- The base row cascades down as usual; a dry run counts the same.
SELECT cascade_delete('place', 1, dry_run => true);
SELECT cascade_delete('place', 4);
SELECT count(*) FROM place;
-- Without the parent link, deleting the child leaves its parent.
SELECT cascade_delete_set_policy('restaurant', '{place_ptr_id}', 'CASCADE');
BEGIN;
SELECT cascade_delete('restaurant', 3);
SELECT id FROM place ORDER BY id;
ROLLBACK;
SELECT cascade_delete_set_policy('restaurant', '{place_ptr_id}', 'CASCADE', parent_link => true);
-- A parent link cascades only.
SELECT cascade_delete_set_policy('restaurant', '{place_ptr_id}', 'PROTECT', parent_link => true);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Generic relations: a tag references a row of any table, named by
-- (content_type_id, object_id); object_id is text, the keys are int and uuid.
CREATE TABLE content_type (id int PRIMARY KEY, model text);
CREATE TABLE tag (id int PRIMARY KEY, content_type_id int NOT NULL REFERENCES content_type,
                  object_id text, label text);
CREATE TABLE doc (id uuid PRIMARY KEY);
CREATE TABLE rating (id int PRIMARY KEY, content_type_id int, object_id int);
INSERT INTO content_type VALUES (1, 'place'), (2, 'doc');
INSERT INTO doc VALUES ('00000000-0000-0000-0000-000000000001'), ('00000000-0000-0000-0000-000000000002');
INSERT INTO tag VALUES (1, 1, '2', 'place 2'), (2, 2, '2', 'doc "2" does not exist'),
    (3, 1, '3', 'place 3'), (4, 2, '00000000-0000-0000-0000-000000000001', 'doc 1'),
    (5, 1, '00000000-0000-0000-0000-000000000001', 'no such place');
INSERT INTO rating VALUES (1, 1, 2), (2, 2, 2), (3, 1, 3);
SELECT cascade_delete_set_policy('tag', '{object_id}', 'CASCADE', parent => 'place',
                                 type_column => 'content_type_id', type_value => '1');
SELECT cascade_delete_set_policy('tag', '{object_id}', 'CASCADE', parent => 'doc',
                                 type_column => 'content_type_id', type_value => '2');
SELECT cascade_delete_set_policy('rating', '{object_id}', 'SET_NULL', parent => 'place',
                                 type_column => 'content_type_id', type_value => '1');
SELECT child, columns, action, parent, type_column, type_value FROM cascade_delete_policy
WHERE type_column IS NOT NULL ORDER BY child::text, parent::text;
-- Place 2: tag 1 (type 1, '2') goes, tag 2 (type 2, '2') stays; rating 1 is
-- set to NULL, rating 2 (type 2) is not.
BEGIN;
SELECT cascade_delete('place', 2);
SELECT id, label FROM tag ORDER BY id;
SELECT * FROM rating ORDER BY id;
ROLLBACK;
-- A uuid key matches its text form.
BEGIN;
SELECT cascade_delete('doc', '00000000-0000-0000-0000-000000000001'::uuid);
SELECT id FROM tag ORDER BY id;
ROLLBACK;
-- Many roots, batched (one key per statement).
BEGIN;
SET LOCAL cascade_delete.batch_size = 1;
SELECT cascade_delete_many('place', ARRAY[2, 3]);
SELECT id FROM tag ORDER BY id;
SELECT * FROM rating ORDER BY id;
ROLLBACK;
-- Bad generic relations.
SELECT cascade_delete_set_policy('tag', '{object_id}', 'CASCADE', type_column => 'content_type_id',
                                 type_value => '1');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('tag', '{object_id}', 'CASCADE', parent => 'place',
                                 type_column => 'content_type_id');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('tag', '{object_id}', 'CASCADE', parent => 'place',
                                 type_column => 'kind', type_value => '1');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('tag', '{object_id}', 'CASCADE', parent => 'place',
                                 type_column => 'content_type_id', type_value => 'one');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('tag', '{object_id}', 'CASCADE', parent => 'place',
                                 type_column => 'object_id', type_value => '1');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('tag', '{object_id}', 'CASCADE', parent => 'place',
                                 type_column => 'content_type_id', type_value => '1', parent_link => true);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- Dropping one parent's policy keeps the other's.
SELECT cascade_delete_drop_policy('tag', '{object_id}', 'doc');
SELECT cascade_delete_drop_policy('tag', '{object_id}', 'doc');
SELECT parent FROM cascade_delete_policy WHERE child = 'tag'::regclass;
-- A plain policy on the same columns replaces the generic ones: every
-- rating of object 3 is then cleared, whatever its type.
SELECT cascade_delete_set_policy('rating', '{object_id}', 'SET_NULL', parent => 'place');
SELECT parent, type_column FROM cascade_delete_policy WHERE child = 'rating'::regclass;
BEGIN;
UPDATE rating SET content_type_id = 2 WHERE id = 3;
SELECT cascade_delete('place', 3, dry_run => true) -> 'updated';
ROLLBACK;
-- Dropping the type column leaves a policy that is reported, not ignored.
SELECT cascade_delete_set_policy('rating', '{object_id}', 'SET_NULL', parent => 'place',
                                 type_column => 'content_type_id', type_value => '1');
ALTER TABLE rating DROP COLUMN content_type_id;
SELECT cascade_delete('place', 3);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- calls whose cascade does not reach the stale policy are not affected
SELECT cascade_delete('doc', '00000000-0000-0000-0000-000000000002'::uuid) -> 'deleted';
SELECT cascade_delete_drop_policy('rating', '{object_id}');
SELECT cascade_delete('place', 3);

-- PROTECT versus RESTRICT on the Artist / Album / Song example of Django's
-- documentation (models.RESTRICT), with Django-style deferred foreign keys.
\set SHOW_CONTEXT never
CREATE SCHEMA music;
SET search_path = music, public;

CREATE TABLE artist (id int PRIMARY KEY, name text);
CREATE TABLE album (id int PRIMARY KEY, artist_id int NOT NULL REFERENCES artist DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE song (id int PRIMARY KEY,
                   artist_id int NOT NULL REFERENCES artist DEFERRABLE INITIALLY DEFERRED,
                   album_id int NOT NULL REFERENCES album DEFERRABLE INITIALLY DEFERRED);
SELECT cascade_delete_set_policy('album', '{artist_id}', 'CASCADE');
SELECT cascade_delete_set_policy('song', '{artist_id}', 'CASCADE');
SELECT cascade_delete_set_policy('song', '{album_id}', 'RESTRICT');

INSERT INTO artist VALUES (1, 'artist one'), (2, 'artist two');
INSERT INTO album VALUES (1, 1), (2, 2);
-- song_two is by artist one but on artist two's album.
INSERT INTO song VALUES (1, 1, 1), (2, 1, 2);

-- album_one.delete(): song one would survive, so RESTRICT refuses.
SELECT cascade_delete('album', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- artist_two.delete(): album two goes, but song two (artist one) would survive.
SELECT cascade_delete('artist', 2);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM artist) AS artists, (SELECT count(*) FROM album) AS albums,
       (SELECT count(*) FROM song) AS songs;
-- artist_one.delete(): both songs are deleted through CASCADE, so RESTRICT does
-- not block; Django returns (4, {'Song': 2, 'Album': 1, 'Artist': 1}).
BEGIN;
SELECT cascade_delete('artist', 1);
COMMIT;
SELECT * FROM artist;
SELECT * FROM album;
SELECT * FROM song;

-- PROTECT refuses even rows that the same cascade deletes through another path.
TRUNCATE artist, album, song;
INSERT INTO artist VALUES (1, 'artist one'), (2, 'artist two');
INSERT INTO album VALUES (1, 1), (2, 2);
INSERT INTO song VALUES (1, 1, 1), (2, 1, 2);
SELECT cascade_delete_set_policy('song', '{album_id}', 'PROTECT');
SELECT cascade_delete('artist', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM artist) AS artists, (SELECT count(*) FROM album) AS albums,
       (SELECT count(*) FROM song) AS songs;

-- Being set to NULL does not exempt a row from RESTRICT; only deletion does.
CREATE TABLE review (id int PRIMARY KEY,
                     album_id int REFERENCES album DEFERRABLE INITIALLY DEFERRED,
                     song_id int REFERENCES song DEFERRABLE INITIALLY DEFERRED);
SELECT cascade_delete_set_policy('song', '{album_id}', 'CASCADE');
SELECT cascade_delete_set_policy('review', '{album_id}', 'SET_NULL');
SELECT cascade_delete_set_policy('review', '{song_id}', 'RESTRICT');
INSERT INTO review VALUES (1, 2, 2);
SELECT cascade_delete('album', 2);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM review;

SET client_min_messages = warning;
DROP SCHEMA music CASCADE;

-- cascade_delete 0.1.0: install script (the regression tests are the other files in sql/)
\echo Use "CREATE EXTENSION cascade_delete" to load this file. \quit

-- on_delete policies: the ORM's rules for foreign keys, and foreign keys that
-- exist only in the application. Written through cascade_delete_set_policy()
-- and cascade_delete_drop_policy(), which check that the caller owns the table.
CREATE TABLE @extschema@.cascade_delete_policy (
    child          regclass NOT NULL,
    columns        name[]   NOT NULL,
    action         text     NOT NULL CHECK (action IN ('CASCADE', 'PROTECT', 'RESTRICT',
                                   'SET_NULL', 'SET_DEFAULT', 'SET', 'DO_NOTHING')),
    value          text     CHECK ((action = 'SET') = (value IS NOT NULL)),
    parent         regclass NOT NULL,
    parent_columns name[]   NOT NULL CHECK (cardinality(parent_columns) = cardinality(columns)),
    -- Multi-table inheritance: deleting a child row also deletes the parent row it references.
    parent_link    boolean  NOT NULL DEFAULT false CHECK (NOT parent_link OR action = 'CASCADE'),
    -- Generic relations: only child rows whose type_column holds type_value reference parent.
    type_column    name,
    type_value     text     CHECK ((type_column IS NULL) = (type_value IS NULL)),
    -- The columns' numbers when the policy was set: a policy whose columns were
    -- renamed, dropped or replaced since is refused, never applied to another column.
    attnums        int2[]   NOT NULL,
    parent_attnums int2[]   NOT NULL,
    PRIMARY KEY (child, columns, parent)
);
COMMENT ON TABLE @extschema@.cascade_delete_policy IS
    'on_delete policies of cascade_delete; change them with cascade_delete_set_policy() and cascade_delete_drop_policy()';
REVOKE ALL ON @extschema@.cascade_delete_policy FROM PUBLIC;
GRANT SELECT ON @extschema@.cascade_delete_policy TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cascade_delete_policy', '');

CREATE FUNCTION @extschema@.cascade_delete(target regclass, key anyelement, dry_run boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'cascade_delete_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete(regclass, anyelement, boolean) IS
    'Deletes the row of target with primary key key and everything its foreign keys and policies cascade to; returns a jsonb report';

-- Untyped literals and parameters (psycopg2, node-postgres, JDBC) resolve to text.
CREATE FUNCTION @extschema@.cascade_delete(target regclass, key text, dry_run boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'cascade_delete_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete(regclass, text, boolean) IS
    'Deletes the row of target whose primary key is key given as text (cast to the key type); returns a jsonb report';

CREATE FUNCTION @extschema@.cascade_delete_many(target regclass, keys anyarray, dry_run boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'cascade_delete_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_many(regclass, anyarray, boolean) IS
    'Deletes the rows of target with the primary keys in keys (a 2-D array [keys][columns] for composite keys), cascading';

-- Untyped array parameters (node-postgres, psycopg2's empty list) resolve to text.
CREATE FUNCTION @extschema@.cascade_delete_many(target regclass, keys text, dry_run boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'cascade_delete_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_many(regclass, text, boolean) IS
    'Deletes the rows of target with the primary keys in keys, an array in its text form (''{1,2}'', ''{{a,1},{b,2}}''), cascading';

CREATE FUNCTION @extschema@.cascade_delete_where(target regclass, condition text, dry_run boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'cascade_delete_where'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_where(regclass, text, boolean) IS
    'Deletes the rows of target matching the SQL condition (evaluated with the caller''s rights), cascading';

CREATE FUNCTION @extschema@.cascade_delete_set_policy(child regclass, columns text[], action text,
    value text DEFAULT NULL, parent regclass DEFAULT NULL, parent_columns text[] DEFAULT NULL,
    parent_link boolean DEFAULT false, type_column text DEFAULT NULL, type_value text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'cascade_delete_set_policy'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_set_policy(regclass, text[], text, text, regclass, text[], boolean, text, text) IS
    'Sets the on_delete action (CASCADE, PROTECT, RESTRICT, SET_NULL, SET_DEFAULT, SET, DO_NOTHING) of child(columns); parent declares a foreign key that exists only in the application; parent_link makes deleting a child row delete its parent row (multi-table inheritance); type_column = type_value restricts a generic relation to one parent table';

CREATE FUNCTION @extschema@.cascade_delete_drop_policy(child regclass, columns text[], parent regclass DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'cascade_delete_drop_policy'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_drop_policy(regclass, text[], regclass) IS
    'Drops the policies of child(columns) (only the one towards parent, when given); returns whether one existed';

-- Policies of a dropped table go with it.
CREATE FUNCTION @extschema@.cascade_delete_drop_policies_of_dropped_tables()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM @extschema@.cascade_delete_policy p
    USING pg_event_trigger_dropped_objects() d
    WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
      AND d.objid IN (p.child, p.parent);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.cascade_delete_drop_policies_of_dropped_tables() FROM PUBLIC;
CREATE EVENT TRIGGER cascade_delete_drop_policies ON sql_drop
    EXECUTE FUNCTION @extschema@.cascade_delete_drop_policies_of_dropped_tables();

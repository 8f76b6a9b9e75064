// pgjdbc against Shoal, run by tests/clients/test_jdbc.py: connect (with
// pgjdbc's startup settings), DDL, typed prepared inserts and selects
// executed past prepareThreshold (5) so the statements become
// server-prepared and binary, arrays, a rolled-back transaction, an error
// with its SQLSTATE and the connection usable afterwards. Prints "OK" on
// success; any failed check throws.

import java.math.BigDecimal;
import java.sql.*;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.UUID;

public class JdbcCheck {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static String state(Connection c, String sql) {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            return e.getSQLState();
        }
        return null;
    }

    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0])) {
            check(c.getMetaData().getDatabaseMajorVersion() == 15, "server version");
            try (Statement s = c.createStatement();
                 ResultSet r = s.executeQuery(
                     "SELECT current_setting('extra_float_digits'), current_setting('DateStyle'), "
                         + "current_setting('application_name')")) {
                r.next();
                check(r.getString(1).equals("3"), "extra_float_digits " + r.getString(1));
                check(r.getString(2).startsWith("ISO"), "DateStyle " + r.getString(2));
                check(r.getString(3).equals("PostgreSQL JDBC Driver"), "application_name " + r.getString(3));
            }
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS jt");
                s.execute("CREATE TABLE jt (id int PRIMARY KEY, b bigint, n numeric(10,2), f float8, "
                    + "t text, ok bool, raw bytea, d date, ts timestamp, tz timestamptz, u uuid, "
                    + "j jsonb, ia int[], ta text[])");
            }
            UUID u = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
            LocalDateTime ts = LocalDateTime.of(2024, 2, 29, 1, 2, 3, 456_000_000);
            OffsetDateTime tz = OffsetDateTime.of(ts, ZoneOffset.UTC);
            int n = 8; // past prepareThreshold: the last executions are server-prepared
            try (PreparedStatement p = c.prepareStatement(
                     "INSERT INTO jt VALUES (?,?,?,?,?,?,?,?,?,?,?,?::jsonb,?,?)")) {
                for (int i = 0; i < n; i++) {
                    p.setInt(1, i);
                    p.setLong(2, 9_000_000_000L + i);
                    p.setBigDecimal(3, new BigDecimal("12.34").add(BigDecimal.valueOf(i)));
                    p.setDouble(4, 1.5 * i);
                    p.setString(5, "héllo " + i);
                    p.setBoolean(6, i % 2 == 0);
                    p.setBytes(7, new byte[] {0, (byte) 255, (byte) i});
                    p.setObject(8, LocalDate.of(2024, 2, 29));
                    p.setObject(9, ts);
                    p.setObject(10, tz);
                    p.setObject(11, u);
                    p.setString(12, "{\"i\": " + i + "}");
                    p.setArray(13, c.createArrayOf("int4", new Integer[] {i, -i}));
                    p.setArray(14, c.createArrayOf("text", new String[] {"a", "b c", null}));
                    check(p.executeUpdate() == 1, "insert count");
                }
            }
            try (PreparedStatement p = c.prepareStatement("SELECT * FROM jt WHERE id = ?")) {
                for (int i = 0; i < n; i++) {
                    p.setInt(1, i);
                    try (ResultSet r = p.executeQuery()) {
                        check(r.next(), "row " + i);
                        check(r.getInt("id") == i, "id");
                        check(r.getLong("b") == 9_000_000_000L + i, "bigint");
                        check(r.getBigDecimal("n").equals(new BigDecimal("12.34").add(BigDecimal.valueOf(i))), "numeric " + r.getBigDecimal("n"));
                        check(r.getDouble("f") == 1.5 * i, "float8");
                        check(r.getString("t").equals("héllo " + i), "text");
                        check(r.getBoolean("ok") == (i % 2 == 0), "bool");
                        check(Arrays.equals(r.getBytes("raw"), new byte[] {0, (byte) 255, (byte) i}), "bytea");
                        check(r.getObject("d", LocalDate.class).equals(LocalDate.of(2024, 2, 29)), "date");
                        check(r.getObject("ts", LocalDateTime.class).equals(ts), "timestamp " + r.getObject("ts", LocalDateTime.class));
                        check(r.getObject("tz", OffsetDateTime.class).toInstant().equals(tz.toInstant()), "timestamptz");
                        check(r.getObject("u").equals(u), "uuid");
                        check(r.getString("j").equals("{\"i\": " + i + "}"), "jsonb " + r.getString("j"));
                        check(Arrays.equals((Integer[]) r.getArray("ia").getArray(), new Integer[] {i, -i}), "int[]");
                        check(Arrays.equals((String[]) r.getArray("ta").getArray(), new String[] {"a", "b c", null}), "text[]");
                        check(!r.next(), "one row");
                    }
                }
            }
            // A transaction rolled back.
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO jt (id) VALUES (100)");
            }
            c.rollback();
            // An error inside a transaction: its SQLSTATE, then the block
            // refuses more until rollback.
            check("23505".equals(state(c, "INSERT INTO jt (id) VALUES (1)")), "unique violation");
            check("25P02".equals(state(c, "SELECT 1")), "in failed transaction");
            c.rollback();
            c.setAutoCommit(true);
            check("42P01".equals(state(c, "SELECT * FROM nope")), "undefined table");
            check("22012".equals(state(c, "SELECT 1/0")), "division by zero");
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT count(*) FROM jt")) {
                r.next();
                check(r.getLong(1) == n, "count after rollback " + r.getLong(1));
            }
            // DatabaseMetaData reads pg_catalog.
            try (ResultSet r = c.getMetaData().getColumns(null, "public", "jt", null)) {
                StringBuilder cols = new StringBuilder();
                while (r.next()) cols.append(r.getString("COLUMN_NAME")).append(':').append(r.getString("TYPE_NAME")).append(' ');
                check(cols.toString().equals("id:int4 b:int8 n:numeric f:float8 t:text ok:bool raw:bytea d:date ts:timestamp tz:timestamptz u:uuid j:jsonb ia:_int4 ta:_text "), "columns " + cols);
            }
        }
        System.out.println("OK");
    }
}

"""pgjdbc (Debian's libpostgresql-jdbc-java) against Shoal: compiles and
runs tests/clients/jdbc/JdbcCheck.java, which checks pgjdbc's startup
settings, server-prepared typed statements, arrays, a rollback, errors'
SQLSTATEs and DatabaseMetaData. Skipped when there is no JDK or no jar."""

import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

JAR = os.environ.get("PGJDBC_JAR", "/usr/share/java/postgresql.jar")
SOURCE = pathlib.Path(__file__).parent / "jdbc" / "JdbcCheck.java"


def test_pgjdbc(dsn):
    if not (shutil.which("javac") and shutil.which("java")):
        pytest.skip("no JDK (javac/java) on PATH")
    if not os.path.exists(JAR):
        pytest.skip(f"pgjdbc jar not found at {JAR} (apt-get install libpostgresql-jdbc-java)")
    parts = dict(re.findall(r"(\w+)=(\S+)", dsn))
    url = (
        f"jdbc:postgresql://{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}"
        f"/{parts.get('dbname', 'postgres')}?user={parts.get('user', 'postgres')}"
    )
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["javac", "-d", out, "-cp", JAR, str(SOURCE)], check=True, timeout=120)
        run = subprocess.run(
            ["java", "-cp", f"{JAR}{os.pathsep}{out}", "JdbcCheck", url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0 and run.stdout.strip().endswith("OK"), run.stdout + run.stderr

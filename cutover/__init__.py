"""cutover: move an application's data tier from PostgreSQL to Apache Iceberg, prove the copy, follow the
source and switch reads over by feature flags.

Importing the package chooses how Arrow and numpy take memory (:mod:`cutover.memory`), before either
allocates anything; an explicit setting in the environment wins.
"""

from cutover.memory import prefer_plain_pages

prefer_plain_pages()

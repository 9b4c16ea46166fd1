"""SFTP transport for partners who drop files on a server (split by job in the next change)."""

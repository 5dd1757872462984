"""The newsroom desk: editors' accounts, the audit log, the CMS API and the desk's web pages."""

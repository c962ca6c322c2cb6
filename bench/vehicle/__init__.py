"""Vehicle OTA campaigns: the signed campaign manifest and the reference update master that
installs it on several ECUs as one (preconditions, order, all-or-nothing, rollback, journal)."""

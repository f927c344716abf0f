# Wizards (exec, code, update, debug) are added here by the issues that build them.

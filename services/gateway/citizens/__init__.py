"""The citizens room: the Citizens' Panel, scrutiny triggers and the Local Public Audit
Committee of each place (README "Citizens in the loop")."""

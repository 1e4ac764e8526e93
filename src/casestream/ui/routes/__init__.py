"""The reviewer's pages, one router per subject (sign-in, cases, caseloads, audit, export)."""

# Reference p-values of the integrity "rise" signal (analysis.integrity.rise_test): Fisher's exact test,
# one-sided, of k of n window responses all satisfied against k0 of n0 reference responses, by R's own
# fisher.test (stats).  Regenerate: Rscript tests/analysis/reference/rise_reference.R
# Output: rise_reference.csv, compared by tests/analysis/test_integrity_rise.py.
cases <- rbind(c(22, 24, 396, 720), c(17, 19, 396, 720), c(3, 4, 396, 720), c(0, 4, 396, 720),
               c(60, 80, 50, 100), c(344, 380, 1200, 2200), c(5, 5, 1, 10), c(1, 1, 9, 10),
               c(12, 30, 40, 200), c(200, 240, 1300, 2160), c(7, 9, 3, 4), c(40, 40, 0, 30))
out <- data.frame()
for (i in seq_len(nrow(cases))) {
  x <- cases[i, ]
  tab <- matrix(c(x[1], x[2] - x[1], x[3], x[4] - x[3]), nrow = 2)
  p <- fisher.test(tab, alternative = "greater")$p.value
  out <- rbind(out, data.frame(k = x[1], n = x[2], k0 = x[3], n0 = x[4], p = sprintf("%.17g", p)))
}
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(sub("^--file=", "", args[grep("^--file=", args)]))
write.csv(out, file.path(here, "rise_reference.csv"), row.names = FALSE)

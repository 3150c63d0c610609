# n_eff of an index against R survey (docs/methodology-design.md "n_eff of an index"):
#   cd tests/analysis/reference && Rscript neff_index.R   (prints; nothing is written)
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv("core_data.csv", stringsAsFactors = FALSE)
items <- paste0("Q", 1:6)
for (q in items) { d[[paste0("s_", q)]] <- as.numeric(!is.na(d[[q]]) & d[[q]] >= 4); d[[paste0("a_", q)]] <- as.numeric(!is.na(d[[q]])) }
# the app's default design: every counter surveyed (strata), citizens sampled
des <- svydesign(ids = ~1, strata = ~service_point, weights = ~weight, data = d)
tot_f <- as.formula(paste("~", paste(c(rbind(paste0("s_", items), paste0("a_", items))), collapse = "+")))
ratio <- function(q) paste0("s_", q, "/a_", q)
overall <- parse(text = paste0("(", paste(sapply(items, ratio), collapse = "+"), ")/6"))[[1]]
cc <- svycontrast(svytotal(tot_f, des), list(overall = overall))
p <- coef(cc); V <- SE(cc)^2
n <- nrow(d)
cat(sprintf("overall %.4f  SE %.5f  n %d  p(1-p)/V %.0f\n", p, sqrt(V), n, p * (1 - p) / V))
# one item: a proportion, where p(1-p)/V is n/deff
m1 <- svymean(~I(Q1 >= 4), subset(des, !is.na(Q1)), deff = "replace")
n1 <- sum(!is.na(d$Q1)); p1 <- coef(m1)[2]; V1 <- SE(m1)[2]^2
cat(sprintf("Q1 %.4f  n %d  p(1-p)/V %.0f  n/deff %.0f\n", p1, n1, p1 * (1 - p1) / V1, n1 / deff(m1)[2]))
# the index per response (all 6 answered): its design effect and n/deff, against p(1-p)/V
full <- subset(des, complete.cases(d[, items]))
dd <- d[complete.cases(d[, items]), ]
full <- update(full, score = rowMeans(sapply(items, function(q) as.numeric(dd[[q]] >= 4))))
ms <- svymean(~score, full, deff = "replace")
nf <- nrow(dd); ps <- coef(ms); Vs <- SE(ms)^2
S2 <- var(full$variables$score)
cat(sprintf("score (complete responses) %.4f  n %d  p(1-p)/V %.0f  n/deff %.0f  deff %.3f  p(1-p)/S2 %.2f  inter-item corr %.3f\n",
  ps, nf, ps * (1 - ps) / Vs, nf / deff(ms), deff(ms), ps * (1 - ps) / S2,
  mean(cor(sapply(items, function(q) as.numeric(dd[[q]] >= 4)))[upper.tri(diag(6))])))

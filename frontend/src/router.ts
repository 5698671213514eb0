import { createRouter, createWebHashHistory, type RouteRecordRaw } from "vue-router";
import { token } from "./api/auth";
import SignIn from "./pages/SignIn.vue";
import Overview from "./pages/Overview.vue";

// Pages other than sign-in and overview load on first visit, so the initial bundle stays small.
const routes: RouteRecordRaw[] = [
  { path: "/signin", name: "signin", component: SignIn, meta: { public: true, title: "Sign in" } },
  { path: "/", name: "overview", component: Overview, meta: { title: "Overview" } },
  { path: "/dags", name: "dags", component: () => import("./pages/Dags.vue"), meta: { title: "DAGs" } },
  {
    path: "/datasources",
    name: "datasources",
    component: () => import("./pages/Datasources.vue"),
    meta: { title: "Datasources" },
  },
  { path: "/install", name: "install", component: () => import("./pages/Install.vue"), meta: { title: "Install" } },
  {
    path: "/results/:source?",
    name: "results",
    component: () => import("./pages/Results.vue"),
    meta: { title: "Results" },
  },
  { path: "/system", name: "system", component: () => import("./pages/System.vue"), meta: { title: "System" } },
  { path: "/bench", name: "bench", component: () => import("./pages/Bench.vue"), meta: { title: "Policy benchmark" } },
  { path: "/:pathMatch(.*)*", redirect: "/" },
];

export const router = createRouter({ history: createWebHashHistory(), routes });

router.beforeEach((to) => {
  if (!to.meta.public && !token.value) return { name: "signin", query: { next: to.fullPath } };
  if (to.name === "signin" && token.value) return typeof to.query.next === "string" ? to.query.next : "/";
  return true;
});

router.afterEach((to) => {
  document.title = `${String(to.meta.title ?? "Dayu")} · Dayu`;
});
